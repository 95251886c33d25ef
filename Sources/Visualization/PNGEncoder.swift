// PNGEncoder: writes 8-bit RGB images as PNG, the image data deflated by zlib (level 9) and each row filtered
// with PNG's "up" filter (flat heat-map cells repeat row after row, so the differences are mostly zero).
import CZlib

public struct RGBImage {
    public let width: Int
    public let height: Int
    public var pixels: [UInt8]  // (height, width, 3)

    public init(width: Int, height: Int, fill: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) {
            pixels[3 * i] = fill.0
            pixels[3 * i + 1] = fill.1
            pixels[3 * i + 2] = fill.2
        }
    }

    public mutating func fillRect(x: Int, y: Int, w: Int, h: Int, _ c: (UInt8, UInt8, UInt8)) {
        for yy in max(0, y)..<min(height, y + h) {
            for xx in max(0, x)..<min(width, x + w) {
                let i = 3 * (yy * width + xx)
                pixels[i] = c.0
                pixels[i + 1] = c.1
                pixels[i + 2] = c.2
            }
        }
    }

    public func pixel(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        let i = 3 * (y * width + x)
        return (pixels[i], pixels[i + 1], pixels[i + 2])
    }
}

public enum PNGEncoder {
    public static func encode(_ image: RGBImage) -> [UInt8] {
        let stride = image.width * 3
        var raw: [UInt8] = []
        raw.reserveCapacity((stride + 1) * image.height)
        for y in 0..<image.height {
            let row = image.pixels[(y * stride)..<((y + 1) * stride)]
            if y == 0 {
                raw.append(0)  // filter: none
                raw += row
            } else {
                raw.append(2)  // filter: up (each byte minus the byte above it, modulo 256)
                let above = image.pixels[((y - 1) * stride)..<(y * stride)]
                raw += zip(row, above).map { $0 &- $1 }
            }
        }
        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header: [UInt8] = []
        header += be32(image.width) + be32(image.height)
        header += [8, 2, 0, 0, 0]  // 8-bit, RGB, deflate, adaptive filters, no interlace
        png += chunk("IHDR", header)
        png += chunk("IDAT", deflate(raw))
        png += chunk("IEND", [])
        return png
    }

    static func be32(_ v: Int) -> [UInt8] {
        [UInt8((v >> 24) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
    }

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        let body = Array(type.utf8) + data
        return be32(data.count) + body + be32(Int(crc32(body)))
    }

    /// A zlib stream (header, deflate data, Adler-32) at compression level 9.
    static func deflate(_ data: [UInt8]) -> [UInt8] {
        var size = compressBound(uLong(data.count))
        var out = [UInt8](repeating: 0, count: Int(size))
        // compress2 fails only when memory runs out or the bound is too small; neither can happen here.
        let status = compress2(&out, &size, data, uLong(data.count), 9)
        precondition(status == Z_OK, "zlib compress2 failed with status \(status)")
        return Array(out[..<Int(size)])
    }

    static func crc32(_ data: [UInt8]) -> UInt32 {
        UInt32(CZlib.crc32(0, data, uInt(data.count)))
    }
}

extension RGBImage {
    /// Draws `text` in the 6x10 bitmap font with its top-left corner at (x, y); `vertical` turns it 90° so that it
    /// reads bottom to top starting at (x, y + height of the text). Characters outside the font draw as '?'.
    public mutating func drawText(_ text: String, x: Int, y: Int, colour: (UInt8, UInt8, UInt8) = (0, 0, 0),
                                  vertical: Bool = false) {
        let scalars = Array(text.unicodeScalars)
        for (i, scalar) in scalars.enumerated() {
            let rows = BitmapFont.glyphs[scalar.value] ?? BitmapFont.glyphs[63]!
            for (r, bits) in rows.enumerated() {
                for c in 0..<BitmapFont.width where bits & (1 << (BitmapFont.width - 1 - c)) != 0 {
                    if vertical {
                        // rotate counter-clockwise: glyph column c becomes a row counted up from the baseline
                        let px = x + r
                        let py = y + (scalars.count - i) * BitmapFont.width - c - 1
                        fillRect(x: px, y: py, w: 1, h: 1, colour)
                    } else {
                        fillRect(x: x + i * BitmapFont.width + c, y: y + r, w: 1, h: 1, colour)
                    }
                }
            }
        }
    }
}
