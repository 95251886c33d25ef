// AttentionPattern: one head's attention probabilities (queries × keys, causal), rendered as an SVG heat map
// labelled with the tokens, a PNG, or coloured text for a terminal.

public struct AttentionPattern: Sendable {
    public var layer: Int
    public var head: Int
    /// Token texts, one per position.
    public var tokens: [String]
    /// (tokens.count, tokens.count) row-major: row = query position, column = key position.
    public var weights: [Float]

    public init(layer: Int, head: Int, tokens: [String], weights: [Float]) {
        precondition(weights.count == tokens.count * tokens.count)
        self.layer = layer
        self.head = head
        self.tokens = tokens
        self.weights = weights
    }

    public var size: Int { tokens.count }
    public func weight(query: Int, key: Int) -> Float { weights[query * size + key] }
}

/// Colour map from white (0) through light blue to dark blue (1).
func heatColour(_ value: Float) -> (UInt8, UInt8, UInt8) {
    let v = max(0, min(1, value)).squareRoot()  // sqrt spreads the many small weights apart
    let r = 255 - v * (255 - 8)
    let g = 255 - v * (255 - 48)
    let b = 255 - v * (255 - 107)
    return (UInt8(r), UInt8(g), UInt8(b))
}

public enum AttentionRenderer {
    static func escapeXML(_ s: String) -> String {
        var out = ""
        for ch in s {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Token text made visible: spaces as ·, newlines as ⏎.
    public static func visible(_ token: String) -> String {
        String(token.map { ch -> Character in
            switch ch {
            case " ": "·"
            case "\n": "⏎"
            case "\t": "⇥"
            default: ch
            }
        })
    }

    /// A grid of heat maps, `columns` wide, each labelled with the tokens (keys on top, queries on the left).
    public static func svg(_ patterns: [AttentionPattern], columns: Int = 1, cell: Int = 22) -> String {
        guard let first = patterns.first else { return "<svg xmlns=\"http://www.w3.org/2000/svg\"/>" }
        let n = first.size
        let label = 8 * (first.tokens.map { visible($0).count }.max() ?? 4) + 12
        let panel = label + n * cell + 20
        let rows = (patterns.count + columns - 1) / columns
        var s = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(columns * panel)" height="\(rows * (panel + 20))" \
            font-family="monospace" font-size="12">
            <rect width="100%" height="100%" fill="white"/>

            """
        for (index, p) in patterns.enumerated() {
            let ox = (index % columns) * panel
            let oy = (index / columns) * (panel + 20)
            s += "<g transform=\"translate(\(ox),\(oy))\">\n"
            s += "<text x=\"\(label)\" y=\"14\" font-weight=\"bold\">layer \(p.layer) head \(p.head)</text>\n"
            for (j, t) in p.tokens.enumerated() {
                let x = label + j * cell + cell / 2 + 4
                s += "<text transform=\"translate(\(x),\(label + 18)) rotate(-90)\">\(escapeXML(visible(t)))</text>\n"
            }
            for (i, t) in p.tokens.enumerated() {
                let y = label + 20 + i * cell
                s += "<text x=\"\(label - 6)\" y=\"\(y + cell / 2 + 4)\" text-anchor=\"end\">\(escapeXML(visible(t)))</text>\n"
                for j in 0..<n {
                    let w = p.weight(query: i, key: j)
                    let c = heatColour(w)
                    s += "<rect x=\"\(label + j * cell)\" y=\"\(y)\" width=\"\(cell - 1)\" height=\"\(cell - 1)\" "
                        + "fill=\"rgb(\(c.0),\(c.1),\(c.2))\"><title>\(escapeXML(p.tokens[i])) → "
                        + "\(escapeXML(p.tokens[j])): \(w)</title></rect>\n"
                }
            }
            s += "</g>\n"
        }
        return s + "</svg>\n"
    }

    /// The heat maps as pixels, a grid of panels, each titled and labelled with the tokens (keys along the top,
    /// read bottom to top; queries down the left) in a 6x10 bitmap font.
    public static func png(_ patterns: [AttentionPattern], columns: Int = 1, cell: Int = 16) -> [UInt8] {
        guard let first = patterns.first else { return PNGEncoder.encode(RGBImage(width: 1, height: 1)) }
        let n = first.size
        let labels = first.tokens.map { String(visible($0).prefix(16)) }
        let labelWidth = (labels.map(\.count).max() ?? 1) * BitmapFont.width + 6
        let title = 14
        let panelW = labelWidth + n * cell + 12
        let panelH = title + labelWidth + n * cell + 12
        let rows = (patterns.count + columns - 1) / columns
        var image = RGBImage(width: columns * panelW, height: rows * panelH)
        for (index, p) in patterns.enumerated() {
            let ox = (index % columns) * panelW
            let oy = (index / columns) * panelH
            image.drawText("layer \(p.layer) head \(p.head)", x: ox + labelWidth, y: oy + 2)
            let gridX = ox + labelWidth
            let gridY = oy + title + labelWidth
            // axis names in the empty corner: keys run along the top, queries down the left
            for (k, axis) in ["keys ->", "queries v"].enumerated() {
                let w = axis.count * BitmapFont.width
                image.drawText(axis, x: gridX - 6 - w, y: gridY - (2 - k) * (BitmapFont.height + 2) - 2,
                               colour: (110, 110, 110))
            }
            for (j, label) in labels.enumerated() {
                let textHeight = label.unicodeScalars.count * BitmapFont.width
                image.drawText(label, x: gridX + j * cell + (cell - BitmapFont.height) / 2,
                               y: gridY - 4 - textHeight, vertical: true)
            }
            for (i, label) in labels.enumerated() {
                let textWidth = label.unicodeScalars.count * BitmapFont.width
                image.drawText(label, x: gridX - 4 - textWidth, y: gridY + i * cell + (cell - BitmapFont.height) / 2)
                for j in 0..<n {
                    image.fillRect(x: gridX + j * cell, y: gridY + i * cell, w: cell - 1, h: cell - 1,
                                   heatColour(p.weight(query: i, key: j)))
                }
            }
        }
        return PNGEncoder.encode(image)
    }

    /// One row per query token (labelled on the left), one column per key position (numbered on top, the key
    /// tokens listed below). With `colour`, cells are ANSI 24-bit background colours; without (a pipe, NO_COLOR),
    /// shade characters from " " (0) to "█" (1), so the output stays plain text.
    public static func terminal(_ p: AttentionPattern, colour: Bool) -> String {
        let width = min(14, p.tokens.map { visible($0).count }.max() ?? 4)
        let shades: [Character] = [" ", "░", "▒", "▓", "█"]
        var out = "layer \(p.layer) head \(p.head) (rows: queries, columns: keys; darker = more attention)\n"
        out += String(repeating: " ", count: width + 1)
        for j in 0..<p.size {
            let label = String(j % 100)
            out += label + String(repeating: " ", count: 2 - label.count)
        }
        out += "\n"
        for i in 0..<p.size {
            let name = String(visible(p.tokens[i]).prefix(width))
            out += String(repeating: " ", count: width - name.count) + name + " "
            for j in 0..<p.size {
                let w = max(0, min(1, p.weight(query: i, key: j)))
                if colour {
                    let c = heatColour(w)
                    out += "\u{1B}[48;2;\(c.0);\(c.1);\(c.2)m  "
                } else {
                    let shade = shades[min(shades.count - 1, Int((w.squareRoot() * Float(shades.count)).rounded(.down)))]
                    out += String(repeating: shade, count: 2)
                }
            }
            out += (colour ? "\u{1B}[0m" : "") + " \(i)\n"
        }
        out += "keys: " + p.tokens.enumerated().map { "\($0.offset) \(visible($0.element))" }.joined(separator: ", ")
        return out + "\n"
    }
}
