// libFuzzer entry point for the device protocol's encodings, JSON and binary (Sources/ChannelProtocol).
//
// Built and run by Fuzz/run.sh:
//   swiftc -parse-as-library -sanitize=fuzzer,address -O Sources/ChannelProtocol/*.swift Fuzz/FuzzProtocol.swift
// The protocol sources are compiled into this same module, so they are used without an import.
//
// Every input is fed to both codecs. Properties checked (a violation traps, which libFuzzer reports as a crash):
//  1. JSONFrameCodec.decode, BinaryFrameCodec.decode and JSONScanner never trap (ASan also catches memory errors).
//  2. In each codec, a frame that decodes re-encodes to bytes that decode to an equal frame, and encoding that frame
//     again gives the very same bytes (the encoding is stable after one round). The binary encoding is canonical:
//     re-encoding a decoded binary frame gives back the input itself, in exactly `encodedSize` bytes.
//  3. The scanner agrees with itself: `isValidValue` of an input starting with `{` holds exactly when
//     `JSONScanner.object` accepts it; a decoded JSON payload (`body`, or tag 0x03) is itself one valid JSON value
//     and stays `.json` through `Payload.from(bytes:contentType:)`.
//  4. Cross-codec: a frame decoded by either codec, encoded by the other, decodes back equal. The two documented
//     differences are allowed for: the binary encoding clamps integers to 0…2^32−1 (a JSON welcome or reconnect may
//     carry any Int64), and the JSON encoding drops whitespace around a body (a binary JSON payload may have it).
//  5. The binary codec's UTF-8 check agrees with the standard library's `String(validating:as:)` on every input.

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

    if #available(macOS 15, *) {
        guard validatedUTF8(bytes[...]) == String(validating: bytes, as: UTF8.self) else {
            fatalError("validatedUTF8 disagrees with String(validating:as:) on \(describeHex(bytes))")
        }
    }

    if let frame = checkJSON(bytes, isObject: isObject) {
        // JSON → binary → back.
        let binary = BinaryFrameCodec.encode(frame)
        let expected = clampingIntegers(frame)
        let back: Frame
        do {
            back = try BinaryFrameCodec.decode(binary)
        } catch {
            fatalError("JSON frame \(frame) encoded in binary does not decode (\(error)): \(describeHex(binary))")
        }
        guard back == expected else {
            fatalError("JSON frame \(frame) went through binary as \(back); binary \(describeHex(binary))")
        }
    }
    if let frame = checkBinary(bytes) {
        // Binary → JSON → back.
        let json = JSONFrameCodec.encode(frame)
        let expected = trimmingBodyWhitespace(frame)
        let back: Frame
        do {
            back = try JSONFrameCodec.decode(json)
        } catch {
            fatalError("binary frame \(frame) encoded in JSON does not decode (\(error)): \(describe(json))")
        }
        guard back == expected else {
            fatalError("binary frame \(frame) went through JSON as \(back); JSON \(describe(json))")
        }
    }
    return 0
}

/// Properties 2 and 3 for the JSON codec; the decoded frame, or nil when the input is refused.
private func checkJSON(_ bytes: [UInt8], isObject: Bool) -> Frame? {
    let frame: Frame
    do {
        frame = try JSONFrameCodec.decode(bytes)
    } catch {
        // Refusals are fine; they only must not trap. Touch the error so its construction is exercised.
        _ = error.code.rawValue
        _ = error.retryable
        return nil
    }
    if !isObject {
        fatalError("decode accepted a frame that JSONScanner.object refuses: \(describe(bytes))")
    }
    checkJSONPayload(frame, bytes)

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
    return frame
}

/// Properties 2 and 3 for the binary codec; the decoded frame, or nil when the input is refused.
private func checkBinary(_ bytes: [UInt8]) -> Frame? {
    let frame: Frame
    do {
        frame = try BinaryFrameCodec.decode(bytes)
    } catch {
        _ = error.code.rawValue
        _ = error.retryable
        return nil
    }
    checkJSONPayload(frame, bytes)

    let encoded = BinaryFrameCodec.encode(frame)
    guard encoded == bytes else {
        fatalError("binary encoding is not canonical: \(frame) from \(describeHex(bytes)) encodes as \(describeHex(encoded))")
    }
    guard encoded.count == BinaryFrameCodec.encodedSize(frame) else {
        fatalError("encodedSize \(BinaryFrameCodec.encodedSize(frame)) but \(encoded.count) bytes for \(frame)")
    }
    let again: Frame
    do {
        again = try BinaryFrameCodec.decode(encoded)
    } catch {
        fatalError("re-encoded binary frame does not decode (\(error)): \(frame) encoded \(describeHex(encoded))")
    }
    guard again == frame else {
        fatalError("binary round trip changed the frame: \(frame) became \(again); encoded \(describeHex(encoded))")
    }
    let encodedAgain = BinaryFrameCodec.encode(again)
    guard encodedAgain == encoded else {
        fatalError("binary encoding is not stable: \(describeHex(encoded)) then \(describeHex(encodedAgain))")
    }
    return frame
}

/// A decoded JSON payload is one JSON value and stays JSON as a Kafka record labelled application/json.
private func checkJSONPayload(_ frame: Frame, _ input: [UInt8]) {
    guard case .msg(let message) = frame, case .json(let body) = message.payload else { return }
    guard JSONScanner.isValidValue(body) else {
        fatalError("decoded body is not one JSON value: \(describe(body)) from \(describe(input))")
    }
    guard Payload.from(bytes: body, contentType: ContentType.json) == .json(body) else {
        fatalError("Payload.from turned a valid JSON body into binary: \(describe(body))")
    }
}

/// The frame as the binary encoding carries it: integers clamped to 0…2^32−1.
private func clampingIntegers(_ frame: Frame) -> Frame {
    func clamp(_ value: Int) -> Int { Int(UInt32(clamping: value)) }
    switch frame {
    case .welcome(var w):
        w.heartbeatSeconds = clamp(w.heartbeatSeconds)
        w.maxMessageBytes = clamp(w.maxMessageBytes)
        return .welcome(w)
    case .reconnect(let delay):
        return .reconnect(delayMs: clamp(delay))
    default:
        return frame
    }
}

/// The frame as the JSON encoding carries it: a body without JSON whitespace before or after it.
private func trimmingBodyWhitespace(_ frame: Frame) -> Frame {
    guard case .msg(var message) = frame, case .json(let body) = message.payload else { return frame }
    let isSpace: (UInt8) -> Bool = { $0 == 0x20 || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
    guard let first = body.firstIndex(where: { !isSpace($0) }), let last = body.lastIndex(where: { !isSpace($0) }) else {
        return frame
    }
    message.payload = .json(Array(body[first...last]))
    return .msg(message)
}

/// Printable form of some bytes for a crash message: the text if it is UTF-8, and the length.
private func describe(_ bytes: [UInt8]) -> String {
    let shown = bytes.prefix(300)
    let text = String(decoding: shown, as: UTF8.self)
    return "\(bytes.count) bytes \(text.debugDescription)\(bytes.count > 300 ? "…" : "")"
}

/// Hex form of some bytes for a crash message (binary frames), and the length.
private func describeHex(_ bytes: [UInt8]) -> String {
    let hex = "0123456789abcdef".utf8.map { Character(UnicodeScalar($0)) }
    let shown = bytes.prefix(200).map { String([hex[Int($0 >> 4)], hex[Int($0 & 0xF)]]) }.joined(separator: " ")
    return "\(bytes.count) bytes [\(shown)\(bytes.count > 200 ? " …" : "")]"
}
