// ForwardingBackend: passes every call to another backend. Subclasses override `run` to change or watch ops: tests
// inject faults this way, the profiler times each op, and the attention observer collects probabilities.

open class ForwardingBackend: Backend {
    public let inner: any Backend
    public init(_ inner: any Backend) { self.inner = inner }

    open var name: String { inner.name }
    open var device: DeviceInfo { inner.device }
    open func supports(_ op: OpKind, _ format: WeightFormat) -> Bool { inner.supports(op, format) }
    open func allocate(_ shape: [Int], _ format: WeightFormat, label: String) throws -> any DeviceTensor {
        try inner.allocate(shape, format, label: label)
    }
    open func write(_ t: any DeviceTensor, from bytes: UnsafeRawBufferPointer) throws {
        try inner.write(t, from: bytes)
    }
    open func read(_ t: any DeviceTensor, into floats: UnsafeMutableBufferPointer<Float>) throws {
        try inner.read(t, into: floats)
    }
    open func adopt(_ shape: [Int], _ format: WeightFormat, bytes: UnsafeRawBufferPointer, owner: AnyObject,
                    label: String) throws -> (any DeviceTensor)? {
        try inner.adopt(shape, format, bytes: bytes, owner: owner, label: label)
    }
    open func supports(_ op: Op) -> Bool { inner.supports(op) }
    open func run(_ op: Op) throws { try inner.run(op) }
    open func synchronize() throws { try inner.synchronize() }
    open func scratchBytes(for op: Op) -> Int { inner.scratchBytes(for: op) }
}
