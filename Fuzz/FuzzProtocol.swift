// libFuzzer entry point for the device protocol's JSON encoding (Sources/ChannelProtocol).
//
// Built and run by Fuzz/run.sh:
//   swiftc -parse-as-library -sanitize=fuzzer,address -O Sources/ChannelProtocol/*.swift Fuzz/FuzzProtocol.swift
// The protocol sources are compiled into this same module, so they are used without an import.
//
// Properties checked on every input (a violation traps, which libFuzzer reports as a crash):
//  1. JSONFrameCodec.decode and JSONScanner never trap (ASan also catches memory errors).
//  2. A frame that decodes re-encodes to bytes that decode to an equal frame, and encoding that frame again gives
//     the very same bytes (the encoding is stable after one round).
//  3. The scanner agrees with itself: `isValidValue` of an input starting with `{` holds exactly when
//     `JSONScanner.object` accepts it; a decoded `body` is itself one valid JSON value and stays `.json` through
//     `Payload.from(bytes:contentType:)`.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ size: Int) -> CInt {
    let bytes = [UInt8](UnsafeRawBufferPointer(start: data, count: size))

    // The scanner on its own: any value, and objects.
    let valid = JSONScanner.isValidValue(bytes)
    let firstNonSpace = bytes.first { $0 != 0x20 && $0 != 0x09 && $0 != 0x0A && $0 != 0x0D }
    let isObject = (try? JSONScanner.object(bytes)) != nil
    if firstNonSpace == UInt8(ascii: "{") && valid != isObject {
        fatalError("isValidValue=\(valid) but JSONScanner.object accepted=\(isObject) for \(describe(bytes))")
    }
    if isObject && !valid {
        fatalError("JSONScanner.object accepted what isValidValue refuses: \(describe(bytes))")
    }

    // The frame codec.
    let frame: Frame
    do {
        frame = try JSONFrameCodec.decode(bytes)
    } catch {
        // Refusals are fine; they only must not trap. Touch the error so its construction is exercised.
        _ = error.code.rawValue
        _ = error.retryable
        return 0
    }
    if !isObject {
        fatalError("decode accepted a frame that JSONScanner.object refuses: \(describe(bytes))")
    }
    if case .msg(let message) = frame, case .json(let body) = message.payload {
        guard JSONScanner.isValidValue(body) else {
            fatalError("decoded body is not one JSON value: \(describe(body)) from \(describe(bytes))")
        }
        guard Payload.from(bytes: body, contentType: ContentType.json) == .json(body) else {
            fatalError("Payload.from turned a valid JSON body into binary: \(describe(body))")
        }
    }

    let encoded = JSONFrameCodec.encode(frame)
    let again: Frame
    do {
        again = try JSONFrameCodec.decode(encoded)
    } catch {
        fatalError("re-encoded frame does not decode (\(error)): input \(describe(bytes)) encoded \(describe(encoded))")
    }
    guard again == frame else {
        fatalError("round trip changed the frame: \(frame) became \(again); input \(describe(bytes)) encoded \(describe(encoded))")
    }
    let encodedAgain = JSONFrameCodec.encode(again)
    guard encodedAgain == encoded else {
        fatalError("encoding is not stable: \(describe(encoded)) then \(describe(encodedAgain))")
    }
    return 0
}

/// Printable form of some bytes for a crash message: the text if it is UTF-8, and the length.
private func describe(_ bytes: [UInt8]) -> String {
    let shown = bytes.prefix(300)
    let text = String(decoding: shown, as: UTF8.self)
    return "\(bytes.count) bytes \(text.debugDescription)\(bytes.count > 300 ? "…" : "")"
}
