import Foundation
import Testing

/// The README describes the tree as it is: every repository path it names exists.
@Suite("README names only paths that exist")
struct ReadmePathsTests {
    static let repository = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Folders and files at the top of the repository; a README token starting with one of
    /// these is taken as a path.
    static let roots = ["Sources/", "Tests/", "scripts/", "deploy/", "Fuzz/", ".ci/"]
    static let topLevelFiles = ["Package.swift", "docker-compose.yml", "README.md", "BENCHMARKS.md", ".env.example"]

    /// The paths named in `markdown` outside its fenced code blocks: code spans and link
    /// targets that start with a top folder (or are a top-level file), cut at the first space,
    /// without a `:line` suffix or trailing punctuation; names with placeholders (`<Module>`,
    /// `*`, `…`) are not paths.
    static func namedPaths(in markdown: String) -> Set<String> {
        var prose: [Substring] = []
        var fenced = false
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.drop(while: { $0 == " " }).hasPrefix("```") {
                fenced.toggle()
            } else if !fenced {
                prose.append(line)
            }
        }
        let text = prose.joined(separator: "\n")
        var candidates: [Substring] = []
        var rest = text[...]
        while let open = rest.firstIndex(of: "`") {
            let after = rest.index(after: open)
            guard let close = rest[after...].firstIndex(of: "`") else { break }
            candidates.append(rest[after..<close])
            rest = rest[rest.index(after: close)...]
        }
        rest = text[...]
        while let range = rest.range(of: "](") {
            guard let close = rest[range.upperBound...].firstIndex(of: ")") else { break }
            candidates.append(rest[range.upperBound..<close])
            rest = rest[close...]
        }
        var paths: Set<String> = []
        for candidate in candidates {
            var word = String(candidate.split(separator: " ").first ?? "")
            guard roots.contains(where: word.hasPrefix) || topLevelFiles.contains(word) else { continue }
            guard !word.contains(where: { "<>*…{}$".contains($0) }), !word.contains("...") else { continue }
            while let last = word.last, ".,;:)".contains(last) { word.removeLast() }
            if let colon = word.lastIndex(of: ":"), word[word.index(after: colon)...].allSatisfy(\.isNumber) {
                word = String(word[..<colon])
            }
            paths.insert(word)
        }
        return paths
    }

    @Test func everyPathTheReadmeNamesExists() throws {
        let readme = try String(contentsOf: Self.repository.appendingPathComponent("README.md"), encoding: .utf8)
        let paths = Self.namedPaths(in: readme)
        #expect(paths.count > 20, "the README names \(paths.count) paths; the extraction is broken")
        let missing = paths.filter { !FileManager.default.fileExists(atPath: Self.repository.appendingPathComponent($0).path) }
        #expect(missing.isEmpty, "README.md names paths that do not exist: \(missing.sorted().joined(separator: ", "))")
    }

    @Test func theExtractionFindsPathsAndSkipsPlaceholders() {
        let text = """
            ```
            a `Sources/Fenced` block
            ```
            See `Sources/EventBus`, `scripts/stack.sh up`, [BENCHMARKS.md](BENCHMARKS.md), `Tests/<Module>Tests`,
            `deploy/redis/redis.conf:12`, `todo-events`, `Sources/*/x.swift`.
            """
        #expect(Self.namedPaths(in: text) == ["Sources/EventBus", "scripts/stack.sh", "BENCHMARKS.md", "deploy/redis/redis.conf"])
    }
}
