// CLBuffer: a tensor in device memory. Owns one cl_mem, released in deinit; OpenCL defers the actual free until
// every enqueued command that uses it has finished, so dropping a buffer never needs a synchronize.
import COpenCL
import GPTCore

public final class CLBuffer: DeviceTensor {
    public let shape: [Int]
    /// How the bytes are stored; weights keep their GGUF format (quantized blocks), activations are F32.
    public let format: WeightFormat
    public let label: String
    /// The context the memory belongs to (kept alive while the buffer lives).
    let context: CLContext
    let mem: cl_mem
    /// Bytes allocated: format.byteCount(count).
    let bytes: Int

    /// Allocates `format.byteCount(count)` bytes of device memory, filled with zeros (enqueued, like CPUTensor's
    /// memset, so that a fresh cache or output reads as zeros).
    init(context: CLContext, shape: [Int], format: WeightFormat, label: String) throws {
        let count = shape.reduce(1, *)
        guard count > 0, count % format.blockSize == 0, (shape.last ?? 1) % format.blockSize == 0 else {
            throw BackendError.allocationFailed(
                label: label, bytes: 0, "shape \(shape) does not fit \(format) blocks of \(format.blockSize)")
        }
        let bytes = format.byteCount(count)
        guard UInt64(bytes) <= context.device.maxAllocationBytes else {
            throw BackendError.allocationFailed(
                label: label, bytes: bytes,
                "\(context.device.name) allows at most \(context.device.maxAllocationBytes) bytes in one buffer")
        }
        var status: cl_int = 0
        guard let mem = clCreateBuffer(context.context, cl_mem_flags(CL_MEM_READ_WRITE), bytes, nil, &status),
            status == CL_SUCCESS
        else {
            throw BackendError.allocationFailed(
                label: label, bytes: bytes, "clCreateBuffer: \(CLError.name(of: status)) on \(context.device.name)")
        }
        self.shape = shape
        self.format = format
        self.label = label
        self.context = context
        self.mem = mem
        self.bytes = bytes
        var zero: UInt8 = 0
        try cl(clEnqueueFillBuffer(context.queue, mem, &zero, 1, 0, bytes, 0, nil, nil), "zero-fill \(label)")
    }

    /// A read-only buffer initialised from host memory at creation (CL_MEM_COPY_HOST_PTR copies before returning,
    /// so `bytes` need not outlive the call and nothing waits for the queue). Used for per-call token ids.
    init(context: CLContext, copying bytes: UnsafeRawBufferPointer, shape: [Int], format: WeightFormat,
         label: String) throws {
        var status: cl_int = 0
        let flags = cl_mem_flags(CL_MEM_READ_ONLY) | cl_mem_flags(CL_MEM_COPY_HOST_PTR)
        guard bytes.count > 0,
            let mem = clCreateBuffer(context.context, flags, bytes.count, UnsafeMutableRawPointer(mutating: bytes.baseAddress), &status),
            status == CL_SUCCESS
        else {
            throw BackendError.allocationFailed(
                label: label, bytes: bytes.count, "clCreateBuffer: \(CLError.name(of: status))")
        }
        self.shape = shape
        self.format = format
        self.label = label
        self.context = context
        self.mem = mem
        self.bytes = bytes.count
    }

    deinit { clReleaseMemObject(mem) }
}
