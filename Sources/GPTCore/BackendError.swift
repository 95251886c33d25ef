// BackendError: every failure a backend or the registry reports. Messages name the op, format and backend.

public enum BackendError: Error, CustomStringConvertible, Equatable {
    case unknownBackend(String, known: [String])
    case unavailable(String, reason: String, available: [String])
    case unsupported(op: OpKind, format: WeightFormat, backend: String)
    case shapeMismatch(op: OpKind, String)
    case allocationFailed(label: String, bytes: Int, String)
    case device(String)

    public var description: String {
        switch self {
        case .unknownBackend(let name, let known):
            "unknown backend '\(name)'; known backends: \(known.joined(separator: ", "))"
        case .unavailable(let name, let reason, let available):
            "backend '\(name)' is not available here: \(reason); available: "
                + (available.isEmpty ? "none" : available.joined(separator: ", "))
        case .unsupported(let op, let format, let backend):
            "backend '\(backend)' does not support \(op) with \(format) data"
        case .shapeMismatch(let op, let detail):
            "\(op): shape mismatch: \(detail)"
        case .allocationFailed(let label, let bytes, let detail):
            "could not allocate \(bytes) bytes for \(label): \(detail)"
        case .device(let detail):
            detail
        }
    }
}
