/// Minimal JSON text building for the engine's own bodies (errors, stats); no reflection.
enum JSON {
    /// `s` as a JSON string literal, quotes included.
    static func string(_ s: String) -> String {
        var out = "\""
        out.reserveCapacity(s.utf8.count + 2)
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        out += "\""
        return out
    }

    /// The engine's error body: `{"error":"…","request_id":"…"}`.
    static func errorBody(message: String, requestID: String) -> String {
        "{\"error\":\(string(message)),\"request_id\":\(string(requestID))}"
    }
}
