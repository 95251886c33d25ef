// FormatTableTests: WeightFormat (Swift) and CK_FORMATS (ckernels.h) are one table: same formats, ids, names,
// block sizes and bytes per block, in the same order.
import CKernels
import GPTCore
import Testing

extension CKernelsSuite {
    @Suite("Format table")
    struct FormatTableTests {
        @Test("WeightFormat and ckernels.h agree entry by entry")
        func swiftMatchesC() throws {
            var cTable: [ck_format_info] = []
            while let info = ck_format_at(Int32(cTable.count)) { cTable.append(info.pointee) }
            #expect(cTable.count == WeightFormat.allCases.count)
            for (format, info) in zip(WeightFormat.allCases, cTable) {
                #expect(String(cString: info.name) == format.rawValue)
                #expect(UInt32(info.type) == format.ggmlType, "\(format)")
                #expect(Int(info.block_size) == format.blockSize, "\(format)")
                #expect(Int(info.block_bytes) == format.blockBytes, "\(format)")
                #expect(ck_format_find(Int32(format.ggmlType))?.pointee.block_bytes == info.block_bytes)
                #expect(WeightFormat(ggmlType: format.ggmlType) == format)
                #expect(ck_row_bytes(Int32(format.ggmlType), Int64(format.blockSize * 3)) == 3 * format.blockBytes)
            }
            #expect(ck_format_find(9) == nil, "Q8_1 is not a weight format")
            #expect(WeightFormat(ggmlType: 9) == nil)
        }

        @Test("every format dequantizes; quantizers and kernels are a subset")
        func capabilities() {
            for f in WeightFormat.allCases {
                let t = Int32(f.ggmlType)
                #expect(ck_format_supports(t, Int32(CK_CAN_DEQUANTIZE.rawValue)) == 1, "\(f)")
                if ck_format_supports(t, Int32(CK_CAN_MATMUL.rawValue)) == 1 {
                    #expect(ck_matmul_scratch_bytes(t, 1, Int64(f.blockSize)) > 0 || !f.isQuantized)
                }
            }
            #expect(ck_format_supports(9, Int32(CK_CAN_DEQUANTIZE.rawValue)) == 0)
        }

        @Test("format names in messages come from the table")
        func names() {
            #expect(WeightFormat.names([.q6_K, .f32, .q4_K]) == "F32, Q4_K, Q6_K")
            #expect(WeightFormat.q4_K.ggmlName == "Q4_K")
            #expect(WeightFormat.bf16.ggmlName == "BF16")
        }
    }
}
