// APIError: an error answered in OpenAI's shape: {"error": {"message", "type", "param", "code"}} with a status.
import Foundation
import HTTPTypes

public struct APIError: Error, Sendable {
    public var status: HTTPResponse.Status
    public var message: String
    public var type: String
    public var param: String?
    public var code: String?
    /// Seconds a client should wait before retrying (503).
    public var retryAfter: Int?

    public init(_ status: HTTPResponse.Status, _ message: String, type: String = "invalid_request_error",
                param: String? = nil, code: String? = nil, retryAfter: Int? = nil) {
        self.status = status
        self.message = message
        self.type = type
        self.param = param
        self.code = code
        self.retryAfter = retryAfter
    }

    static func invalid(_ message: String, param: String? = nil) -> APIError {
        APIError(.badRequest, message, param: param)
    }

    var json: [String: Any] {
        ["error": ["message": message, "type": type, "param": param.map { $0 as Any } ?? NSNull(),
                   "code": code.map { $0 as Any } ?? NSNull()]]
    }

    /// A readable message for a JSON decoding failure, naming the field ("messages[0].content").
    static func decoding(_ error: Error) -> APIError {
        func path(_ keys: [any CodingKey]) -> String {
            var s = ""
            for k in keys {
                if let i = k.intValue { s += "[\(i)]" } else { s += (s.isEmpty ? "" : ".") + k.stringValue }
            }
            return s
        }
        switch error {
        case DecodingError.typeMismatch(let type, let c):
            return invalid("'\(path(c.codingPath))' has the wrong type (expected \(typeName(type)))",
                           param: path(c.codingPath))
        case DecodingError.valueNotFound(let type, let c):
            return invalid("'\(path(c.codingPath))' must not be null (expected \(typeName(type)))",
                           param: path(c.codingPath))
        case DecodingError.keyNotFound(let key, let c):
            let p = path(c.codingPath + [key])
            return invalid("missing required parameter '\(p)'", param: p)
        case DecodingError.dataCorrupted(let c):
            if c.codingPath.isEmpty { return invalid("the request body is not valid JSON") }
            return invalid("'\(path(c.codingPath))': \(c.debugDescription)", param: path(c.codingPath))
        case let e as APIError:
            return e
        default:
            return invalid("the request body is not valid JSON")
        }
    }

    private static func typeName(_ type: Any.Type) -> String {
        switch type {
        case is String.Type: return "a string"
        case is Int.Type, is Int64.Type: return "an integer"
        case is Double.Type, is Float.Type: return "a number"
        case is Bool.Type: return "a boolean"
        default:
            let name = "\(type)"
            if name.hasPrefix("Array") { return "an array" }
            if name.hasPrefix("Dictionary") { return "an object" }
            return "a value of type \(name)"
        }
    }
}
