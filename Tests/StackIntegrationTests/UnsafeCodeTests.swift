import Foundation
import Testing

/// The only unsafe code is in `Sources/RedisClient` (and the C module
/// `Sources/CHiredis`): every other Swift file under `Sources/` uses safe views
/// (`Span`, `ArraySlice`, `String`, `FileHandle`, ...). Issue 18 §6.
///
/// An exception needs a comment right above it starting with `Unsafe exception:` that says
/// why it is sound, and may not be on a `public` or `open` declaration.
@Suite("No unsafe code outside RedisClient")
struct UnsafeCodeTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Folders (relative to the repository) allowed to hold unsafe code.
    static let allowed = ["Sources/RedisClient/", "Sources/CHiredis/"]

    /// Unsafe pointers and buffers, unchecked loads and rebinding, opting out of the
    /// compiler's Sendable checks (`@unchecked`, `nonisolated(unsafe)`).
    static var pattern: Regex<AnyRegexOutput> {
        try! Regex(
            #"Unsafe|unsafe|loadUnaligned|@unchecked|assumingMemoryBound|bindMemory|withMemoryRebound|withUTF8Buffer|utf8Start|Unmanaged|OpaquePointer|\.pointee\b|baseAddress"#)
    }

    static let marker = "Unsafe exception:"

    @Test("no Swift file under Sources/ outside RedisClient has an unsafe construct")
    func noUnsafeCodeOutsideRedisClient() throws {
        let sources = Self.repository.appendingPathComponent("Sources")
        let files = try #require(FileManager.default.enumerator(at: sources, includingPropertiesForKeys: nil))
            .compactMap { $0 as? URL }
            .filter { $0.pathExtension == "swift" }
        #expect(files.count > 50, "found only \(files.count) Swift files under \(sources.path)")
        var findings: [String] = []
        for file in files {
            let path = String(file.standardizedFileURL.path.dropFirst(Self.repository.standardizedFileURL.path.count + 1))
            guard !Self.allowed.contains(where: { path.hasPrefix($0) }) else { continue }
            let text = try String(contentsOf: file, encoding: .utf8)
            findings += Self.findings(in: text, path: path)
        }
        #expect(findings.isEmpty, "unsafe code outside Sources/RedisClient:\n\(findings.joined(separator: "\n"))")
    }

    @Test("the scanner sees code, not comments or strings, and honours justified exceptions")
    func scannerSeesCodeOnly() {
        let text = """
            // UnsafeRawBufferPointer in a comment
            let a = "unsafe in a string" /* unsafe in a block comment */
            let b = x.withUnsafeBytes { $0 }
            /// doc: unsafe
            let c = \"\"\"
                unsafe in a multi-line string
                \"\"\"
            // Unsafe exception: a justified one.
            private struct S: @unchecked Sendable {}
            // Unsafe exception: not allowed on a public declaration.
            public struct T: @unchecked Sendable {}
            nonisolated(unsafe) var d = 0
            """
        #expect(Self.findings(in: text, path: "F.swift") == [
            "F.swift:3: let b = x.withUnsafeBytes { $0 }",
            "F.swift:11: public struct T: @unchecked Sendable {} (exceptions may not be public)",
            "F.swift:12: nonisolated(unsafe) var d = 0",
        ])
    }

    /// `path:line: code` for every line whose code (comments and string literals removed)
    /// matches `pattern` and is not a justified, non-public exception.
    static func findings(in text: String, path: String) -> [String] {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let code = codeOnly(text).split(separator: "\n", omittingEmptySubsequences: false)
        let pattern = Self.pattern
        let publicDeclaration = try! Regex(#"\b(public|open)\b"#)
        var findings: [String] = []
        for (index, line) in code.enumerated() where line.contains(pattern) {
            let source = lines[index].trimmingCharacters(in: .whitespaces)
            // The comment block right above the line.
            var above = index - 1
            var justified = false
            while above >= 0, lines[above].trimmingCharacters(in: .whitespaces).hasPrefix("//") {
                if lines[above].contains(marker) { justified = true }
                above -= 1
            }
            if !justified {
                findings.append("\(path):\(index + 1): \(source)")
            } else if line.contains(publicDeclaration) {
                findings.append("\(path):\(index + 1): \(source) (exceptions may not be public)")
            }
        }
        return findings
    }

    /// `text` with comments and the contents of string literals replaced by spaces (line
    /// breaks kept, so line numbers stay).
    static func codeOnly(_ text: String) -> String {
        enum State { case code, lineComment, blockComment(depth: Int), string(hashes: Int, multiline: Bool) }
        let characters = Array(text)
        var output: [Character] = []
        output.reserveCapacity(characters.count)
        var state = State.code
        var index = 0
        func starts(_ literal: String, at position: Int) -> Bool {
            let literal = Array(literal)
            return position + literal.count <= characters.count
                && Array(characters[position..<(position + literal.count)]) == literal
        }
        while index < characters.count {
            let character = characters[index]
            switch state {
            case .code:
                if starts("//", at: index) {
                    state = .lineComment
                } else if starts("/*", at: index) {
                    state = .blockComment(depth: 1)
                    output.append(" ")
                    index += 1
                } else if character == "#" || character == "\"" {
                    var hashes = 0
                    while index + hashes < characters.count, characters[index + hashes] == "#" { hashes += 1 }
                    if index + hashes < characters.count, characters[index + hashes] == "\"" {
                        let multiline = starts("\"\"\"", at: index + hashes)
                        let opening = hashes + (multiline ? 3 : 1)
                        output.append(contentsOf: characters[index..<(index + opening)])
                        index += opening
                        state = .string(hashes: hashes, multiline: multiline)
                        continue
                    }
                    output.append(character)
                } else {
                    output.append(character)
                }
            case .lineComment:
                if character == "\n" {
                    state = .code
                    output.append(character)
                } else {
                    output.append(" ")
                }
            case .blockComment(let depth):
                if starts("*/", at: index) {
                    state = depth == 1 ? .code : .blockComment(depth: depth - 1)
                    output.append(contentsOf: "  ")
                    index += 2
                    continue
                } else if starts("/*", at: index) {
                    state = .blockComment(depth: depth + 1)
                    output.append(contentsOf: "  ")
                    index += 2
                    continue
                }
                output.append(character == "\n" ? "\n" : " ")
            case .string(let hashes, let multiline):
                let closing = (multiline ? "\"\"\"" : "\"") + String(repeating: "#", count: hashes)
                if character == "\\", hashes == 0 {
                    // An escape: skip the escaped character too (a line continuation's line
                    // break stays).
                    output.append(" ")
                    if index + 1 < characters.count { output.append(characters[index + 1] == "\n" ? "\n" : " ") }
                    index += 2
                    continue
                } else if starts(closing, at: index) {
                    output.append(contentsOf: closing)
                    index += closing.count
                    state = .code
                    continue
                }
                output.append(character == "\n" ? "\n" : " ")
            }
            index += 1
        }
        return String(output)
    }
}
