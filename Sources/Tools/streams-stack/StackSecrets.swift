import Foundation
import PaymentCards
#if canImport(Glibc)
import Glibc
#endif

/// The passwords of the stack's Redis users for one installation, the ACL file made from
/// them, and the installation's payment card key pair (`PAYMENT_CARD_PRIVATE_KEY` for
/// payment-service, `PAYMENT_CARD_PUBLIC_KEY` for order-service).
///
/// Created at random on first use into `.stack/secrets.env` (mode 600) and reused afterwards,
/// so that URLs handed out stay valid; the file has the format of docker compose's `.env`.
/// Each secret goes into `deploy/redis/users.acl.template` as `${REDIS_<USER>_PASSWORD}` and
/// into the services' `REDIS_URL`s through docker-compose.yml's `${...:?...}`.
struct StackSecrets: Equatable {
    /// The users with a password, in the order of the ACL template (the one place that names
    /// them: see `users(inTemplate:)`).
    let users: [String]

    /// `REDIS_<USER>_PASSWORD`, e.g. `REDIS_TODO_SERVICE_PASSWORD`.
    static func variable(of user: String) -> String {
        "REDIS_\(user.uppercased().replacingOccurrences(of: "-", with: "_"))_PASSWORD"
    }

    /// The users of deploy/redis/users.acl.template that log in with a password: each
    /// `user <name> ... >${REDIS_<NAME>_PASSWORD}` line, in the template's order. A password
    /// placeholder named after another user is refused (the URLs and the file would disagree).
    static func users(inTemplate template: String) throws -> [String] {
        var users: [String] = []
        for line in template.split(separator: "\n") where line.hasPrefix("user ") {
            let words = line.split(separator: " ")
            guard words.count > 1, let password = words.first(where: { $0.hasPrefix(">${") }) else { continue }
            let name = String(words[1])
            guard password == ">${\(variable(of: name))}" else {
                throw StackError("the ACL template gives user \(name) the password \(password.dropFirst()), expected ${\(variable(of: name))}")
            }
            users.append(name)
        }
        guard !users.isEmpty else { throw StackError("the ACL template has no user with a password") }
        return users
    }

    /// The payment card key pair's variables (private, public).
    static let cardKeyVariables = (opening: "PAYMENT_CARD_PRIVATE_KEY", sealing: "PAYMENT_CARD_PUBLIC_KEY")

    var variables: [String] { users.map(Self.variable(of:)) + [Self.cardKeyVariables.opening, Self.cardKeyVariables.sealing] }

    /// Variable name → secret.
    let values: [String: String]

    init(values: [String: String], users: [String]) throws {
        self.users = users
        for name in users.map(Self.variable(of:)) {
            guard let value = values[name] else { throw StackError("no value for \(name)") }
            try Self.validate(value, name: name)
        }
        let (opening, sealing) = Self.cardKeyVariables
        guard let privateKey = values[opening], let publicKey = values[sealing] else {
            throw StackError("no value for \(opening) and \(sealing)")
        }
        let key: PaymentCardOpeningKey
        do {
            key = try PaymentCardOpeningKey(base64URL: privateKey)
        } catch {
            throw StackError("\(opening): \(error)")
        }
        guard key.sealingKey.base64URL == publicKey else {
            throw StackError("\(sealing) is not the public half of \(opening)")
        }
        self.values = values
    }

    /// A new payment card key pair, as variable → value.
    static func cardKeyPair() -> [String: String] {
        let key = PaymentCardOpeningKey.generate()
        return [cardKeyVariables.opening: key.base64URL, cardKeyVariables.sealing: key.sealingKey.base64URL]
    }

    func password(of user: String) -> String { values[Self.variable(of: user)] ?? "" }

    /// A fresh set of secrets for `users`.
    static func generate(users: [String]) -> StackSecrets {
        // The values are valid by construction.
        try! StackSecrets(
            values: Dictionary(uniqueKeysWithValues: users.map { (variable(of: $0), randomSecret()) }).merging(cardKeyPair()) { $1 },
            users: users)
    }

    /// 32 letters and digits (190 bits) from the system's cryptographic random source.
    static func randomSecret() -> String {
        let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<32).map { _ in alphabet[Int.random(in: 0..<alphabet.count, using: &generator)] })
    }

    /// The rule deploy/redis/entrypoint.sh applies too: 16 or more of `A-Z a-z 0-9 . _ ~ -`,
    /// characters that need no escaping in a URL, an ACL file or a sed script.
    static func validate(_ value: String, name: String) throws {
        let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._~-")
        guard value.allSatisfy(allowed.contains) else {
            throw StackError("\(name) may only contain letters, digits and . _ ~ -")
        }
        guard value.count >= 16 else { throw StackError("\(name) is too short: use 16 characters or more") }
    }

    // MARK: The secrets file

    /// The file's text: `NAME=value` lines, as docker compose reads `.env`.
    var fileText: String {
        "# Redis passwords of this installation, one per user of deploy/redis/users.acl.template\n"
            + "# and the payment card key pair (made at random by scripts/stack.sh; keep private).\n"
            + "# docker compose reads this format as .env.\n"
            + variables.map { "\($0)=\(values[$0] ?? "")\n" }.joined()
    }

    /// Reads `NAME=value` lines (comments and blank lines ignored).
    static func parse(_ text: String) -> [String: String] {
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            guard !trimmed.isEmpty, !trimmed.hasPrefix("#"), let equals = trimmed.firstIndex(of: "=") else { continue }
            values[String(trimmed[..<equals])] = String(trimmed[trimmed.index(after: equals)...])
        }
        return values
    }

    /// The secrets of `file`, created (mode 600) when it does not exist; a secret missing from
    /// it (a user added since) is generated and the file rewritten.
    static func loadOrCreate(_ file: URL, users: [String]) throws -> StackSecrets {
        guard let text = try? String(contentsOf: file, encoding: .utf8) else {
            let secrets = generate(users: users)
            try PrivateFile.write(secrets.fileText, to: file)
            return secrets
        }
        var values = parse(text)
        var missing = users.map(variable(of:)).filter { values[$0] == nil }
        for name in missing { values[name] = randomSecret() }
        if values[cardKeyVariables.opening] == nil && values[cardKeyVariables.sealing] == nil {
            // An installation made before card tokens: its key pair is made now.
            values.merge(cardKeyPair()) { $1 }
            missing += [cardKeyVariables.opening, cardKeyVariables.sealing]
        }
        let secrets: StackSecrets
        do {
            secrets = try StackSecrets(values: values, users: users)
        } catch {
            throw StackError("\(file.path): \(error) (fix it, or remove the file to get new secrets)")
        }
        if missing.isEmpty {
            chmod(file.path, 0o600)  // keep it private even if someone widened it
        } else {
            try PrivateFile.write(secrets.fileText, to: file)
        }
        return secrets
    }

    // MARK: The ACL file

    /// deploy/redis/users.acl.template with the secrets in place, its comments and blank
    /// lines dropped (Redis takes none in an ACL file).
    func renderACL(template: String) throws -> String {
        var lines: [String] = []
        for line in template.split(separator: "\n") {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            var rendered = String(line)
            for (name, value) in values { rendered = rendered.replacingOccurrences(of: "${\(name)}", with: value) }
            if let unknown = rendered.range(of: #"\$\{[A-Za-z0-9_]*\}"#, options: .regularExpression) {
                throw StackError("the ACL template uses \(rendered[unknown]), which the stack does not know")
            }
            lines.append(rendered)
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Files only their owner may read.
enum PrivateFile {
    /// Writes `text` to `url` with mode 600 from the start (a new file, then renamed over the
    /// old one: no moment where another user could read it).
    static func write(_ text: String, to url: URL) throws {
        let temporary = url.path + ".new-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        guard fd >= 0 else { throw StackError("cannot create \(temporary): \(String(cString: strerror(errno)))") }
        var failure: String?
        if fchmod(fd, 0o600) != 0 { failure = "chmod: \(String(cString: strerror(errno)))" }
        if failure == nil {
            // FileHandle writes all of it (retrying short writes and EINTR) or throws.
            let file = FileHandle(fileDescriptor: fd, closeOnDealloc: false)
            do { try file.write(contentsOf: Data(text.utf8)) } catch { failure = "write: \(error)" }
        }
        close(fd)
        if failure == nil, rename(temporary, url.path) != 0 { failure = "rename: \(String(cString: strerror(errno)))" }
        if let failure {
            unlink(temporary)
            throw StackError("cannot write \(url.path): \(failure)")
        }
    }
}
