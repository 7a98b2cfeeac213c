import ChannelProtocol
import PushService
import Testing

/// Parsing what devices send to service `push` (DeviceOp.parse): every op, and a clear error for everything else.
struct DeviceOpsTests {
    func parse(_ json: String) -> Result<DeviceOp, DeviceOpError> { DeviceOp.parse(.json(Array(json.utf8))) }

    func error(_ json: String) -> String? {
        if case .failure(let error) = parse(json) { return error.message }
        return nil
    }

    @Test func theThreeOps() throws {
        #expect(try parse(#"{"op":"subscribe"}"#).get() == .subscribe(label: nil, expiresSeconds: nil))
        #expect(try parse(#"{"op":"subscribe","label":"Mail ✉︎","expires":3600,"extra":true}"#).get()
                == .subscribe(label: "Mail ✉︎", expiresSeconds: 3600))
        #expect(try parse(#"{"op":"subscribe","label":"","expires":null}"#).get() == .subscribe(label: nil, expiresSeconds: nil),
                "an empty label is no label")
        #expect(try parse(#"{"op":"unsubscribe","subscription":"abc"}"#).get() == .unsubscribe(subscription: "abc"))
        #expect(try parse(#"{"op":"list"}"#).get() == .list)
    }

    @Test func labelsAreAtMost64Characters() throws {
        let longest = String(repeating: "é", count: 64)
        #expect(try parse(#"{"op":"subscribe","label":"\#(longest)"}"#).get() == .subscribe(label: longest, expiresSeconds: nil))
        #expect(error(#"{"op":"subscribe","label":"\#(longest)x"}"#)?.contains("label") == true)
    }

    @Test func expiresIsOneSecondToOneYear() throws {
        #expect(try parse(#"{"op":"subscribe","expires":1}"#).get() == .subscribe(label: nil, expiresSeconds: 1))
        #expect(try parse(#"{"op":"subscribe","expires":31536000}"#).get() == .subscribe(label: nil, expiresSeconds: 31_536_000))
        for bad in ["0", "-5", "31536001", "1.5", "\"60\"", "true"] {
            #expect(error(#"{"op":"subscribe","expires":\#(bad)}"#)?.contains("expires") == true, "expires \(bad)")
        }
    }

    @Test func badRequestsSayWhatIsWrong() {
        #expect(error("[1,2]") != nil)
        #expect(error(#""subscribe""#) != nil)
        #expect(error("{}")?.contains("missing \"op\"") == true)
        #expect(error(#"{"op":"fly"}"#)?.contains("unknown op") == true)
        #expect(error(#"{"op":7}"#)?.contains("op") == true)
        #expect(error(#"{"op":"subscribe","label":5}"#)?.contains("label") == true)
        #expect(error(#"{"op":"unsubscribe"}"#)?.contains("subscription") == true)
        #expect(error(#"{"op":"unsubscribe","subscription":""}"#)?.contains("subscription") == true)
        #expect(error(#"{"op":"unsubscribe","subscription":["x"]}"#)?.contains("subscription") == true)
        #expect(error("{not json") != nil)
        if case .failure(let e) = DeviceOp.parse(.binary([0xFF, 0x00])) {
            #expect(e.message.contains("binary"))
        } else {
            Issue.record("binary data is not an op")
        }
    }
}
