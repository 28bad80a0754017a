@testable import RedisClient
import Testing

/// A script's error names the `.lua` file and line it came from, includes counted.
@Suite("RedisScript: errors located in .lua files")
struct RedisScriptLocationTests {
    /// Lines 1-3 from a.lua, 4-6 from includes/b.lua (its lines 2-4), 7- from a.lua again (its line 5 on).
    static let script = RedisScript(
        name: "M/a.lua", source: "",
        origins: [
            .init(scriptLine: 1, file: "M/a.lua", fileLine: 1), .init(scriptLine: 4, file: "M/includes/b.lua", fileLine: 2),
            .init(scriptLine: 7, file: "M/a.lua", fileLine: 5),
        ])

    @Test func linesMapToTheirFiles() {
        #expect(Self.script.origin(ofLine: 2) == ("M/a.lua", 2))
        #expect(Self.script.origin(ofLine: 5) == ("M/includes/b.lua", 3))
        #expect(Self.script.origin(ofLine: 9) == ("M/a.lua", 7))
    }

    @Test func aRuntimeErrorNamesTheFileAndLine() {
        let error = Self.script.located(
            .server("ERR user_script:5: attempt to compare nil with number script: 1a2b, on @user_script:5."))
        #expect(error.message == "ERR M/includes/b.lua:3: attempt to compare nil with number script: 1a2b, on M/includes/b.lua:3.")
        #expect(error.file == "M/includes/b.lua" && error.line == 3)
        #expect(error.code == .serverError)
        #expect("\(error)".hasSuffix("(M/includes/b.lua:3)"))
    }

    @Test func aRefusalNamesTheScriptAndKeepsItsCodeAndText() {
        let error = Self.script.located(.server("WRONGTYPE k is a string, not a hash; nothing was written"))
        #expect(error.message == "WRONGTYPE k is a string, not a hash; nothing was written")
        #expect(error.code == .wrongType)
        #expect(error.file == "M/a.lua" && error.line == 0)
    }
}
