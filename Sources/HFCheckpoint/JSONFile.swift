// JSONFile: the folder's JSON files (config.json, tokenizer.json, ...) read into typed values with errors that name
// the file and key. Foundation's JSONSerialization does the parsing.
import Foundation

/// A JSON object read from a file, with typed lookups.
struct JSONFile {
    let path: String
    let object: [String: Any]

    /// - Throws: `.missingFile` if absent (callers check first when the file is optional), `.badConfig` if not a
    ///   JSON object.
    init(path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw HFCheckpointError.missingFile(
                folder: (path as NSString).deletingLastPathComponent,
                what: "cannot read \((path as NSString).lastPathComponent)")
        }
        let json: Any
        do {
            json = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw HFCheckpointError.badConfig(
                file: path, key: "", detail: "invalid JSON (\(error.localizedDescription))")
        }
        guard let object = json as? [String: Any] else {
            throw HFCheckpointError.badConfig(file: path, key: "", detail: "not a JSON object")
        }
        self.path = path
        self.object = object
    }

    init(path: String, object: [String: Any]) {
        self.path = path
        self.object = object
    }

    /// nil when the key is absent or JSON null.
    func has(_ key: String) -> Bool { object[key] != nil && !(object[key] is NSNull) }

    func int(_ key: String) throws -> Int? {
        guard has(key) else { return nil }
        guard let value = Self.integer(object[key]) else { throw bad(key, "is not an integer") }
        return value
    }

    func double(_ key: String) throws -> Double? {
        guard has(key) else { return nil }
        guard let number = Self.number(object[key]) else { throw bad(key, "is not a number") }
        return number.doubleValue
    }

    func string(_ key: String) throws -> String? {
        guard has(key) else { return nil }
        guard let value = object[key] as? String else { throw bad(key, "is not a string") }
        return value
    }

    func bool(_ key: String) throws -> Bool? {
        guard has(key) else { return nil }
        guard let value = object[key] as? Bool else { throw bad(key, "is not a boolean") }
        return value
    }

    func object(_ key: String) throws -> JSONFile? {
        guard has(key) else { return nil }
        guard let value = object[key] as? [String: Any] else { throw bad(key, "is not an object") }
        return JSONFile(path: path, object: value)
    }

    func array(_ key: String) throws -> [Any]? {
        guard has(key) else { return nil }
        guard let value = object[key] as? [Any] else { throw bad(key, "is not an array") }
        return value
    }

    func required<T>(_ key: String, _ read: (String) throws -> T?) throws -> T {
        guard let value = try read(key) else { throw bad(key, "is missing") }
        return value
    }

    func bad(_ key: String, _ detail: String) -> HFCheckpointError { .badConfig(file: path, key: key, detail: detail) }

    /// A JSON number; nil for anything else, `true` and `false` included (Foundation hands those out as
    /// NSNumbers too, so `n_layer: true` would otherwise read as 1).
    static func number(_ value: Any?) -> NSNumber? {
        guard let number = value as? NSNumber, number.objCType.pointee != CChar(UInt8(ascii: "c")) else { return nil }
        return number
    }

    /// A JSON integer (a number without a fraction, below 9e15 in magnitude) as Int.
    static func integer(_ value: Any?) -> Int? {
        guard let number = number(value) else { return nil }
        let d = number.doubleValue
        guard d == d.rounded(), abs(d) < 9.0e15 else { return nil }
        return Int(exactly: d)
    }
}
