import Crypto
import Foundation

/// A card number sealed for payment-service, so that no card number travels on the bus or
/// rests in Redis: order-service seals the number it is given with payment-service's public
/// key; events, saga state and commands carry only the token and the last four digits; only
/// payment-service, which holds the private key, opens it to charge.
///
/// Guarantees:
/// - Confidentiality: HPKE (RFC 9180, X25519 + HKDF-SHA256 + ChaCha20-Poly1305) to the
///   installation's payment key; whoever reads a stream, a hash or a dead letter learns the
///   last four digits and nothing more. Each seal uses a fresh ephemeral key, so the same
///   card gives a different token every time (tokens cannot be matched to each other).
/// - Integrity and binding: the order id is authenticated with the number, so a token
///   opens only for the order it was made for; a token changed by one bit, or moved to
///   another order, does not open.
/// - A token is text (`pt1.<encapsulated key>.<ciphertext>`, base64url without padding), so
///   it can sit in a JSON field and a stream entry as it is.
public enum PaymentCardToken {
    static let prefix = "pt1"
    static let ciphersuite = HPKE.Ciphersuite.Curve25519_SHA256_ChachaPoly
    static let info = Data("redis-streams-events payment card token v1".utf8)

    /// Seals `card` for the order `orderID` to `key`.
    public static func seal(card: String, orderID: String, to key: PaymentCardSealingKey) throws -> String {
        var sender = try HPKE.Sender(recipientKey: key.key, ciphersuite: ciphersuite, info: info)
        let ciphertext = try sender.seal(Data(card.utf8), authenticating: Data(orderID.utf8))
        return "\(prefix).\(Base64URL.encode(sender.encapsulatedKey)).\(Base64URL.encode(ciphertext))"
    }

    /// The card number inside `token`, if it was sealed for `orderID` to this key's public half.
    public static func open(_ token: String, orderID: String, with key: PaymentCardOpeningKey) throws -> String {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0] == prefix, let encapsulated = Base64URL.decode(parts[1]),
            let ciphertext = Base64URL.decode(parts[2])
        else {
            throw PaymentCardError("the payment token is not a pt1 token")
        }
        do {
            var recipient = try HPKE.Recipient(
                privateKey: key.key, ciphersuite: ciphersuite, info: info, encapsulatedKey: encapsulated)
            let plaintext = try recipient.open(ciphertext, authenticating: Data(orderID.utf8))
            return String(decoding: plaintext, as: UTF8.self)
        } catch {
            throw PaymentCardError("the payment token does not open with this installation's key for order \(orderID)")
        }
    }

    /// The last four digits of `card`, the only part of it that may be shown or stored.
    public static func last4(of card: String) -> String { String(card.suffix(4)) }
}

/// The public half of the installation's payment key (`PAYMENT_CARD_PUBLIC_KEY`): seals
/// cards, cannot open them.
public struct PaymentCardSealingKey: Sendable {
    let key: Curve25519.KeyAgreement.PublicKey

    /// From its 32 raw bytes in base64url (43 characters, as `PaymentCardOpeningKey.generate` makes them).
    public init(base64URL text: String) throws {
        guard let raw = Base64URL.decode(Substring(text)), raw.count == 32,
            let key = try? Curve25519.KeyAgreement.PublicKey(rawRepresentation: raw)
        else {
            throw PaymentCardError("not a payment card public key: expected 32 bytes in base64url (43 characters)")
        }
        self.key = key
    }

    init(_ key: Curve25519.KeyAgreement.PublicKey) { self.key = key }

    public var base64URL: String { Base64URL.encode(key.rawRepresentation) }
}

/// The private half of the installation's payment key (`PAYMENT_CARD_PRIVATE_KEY`): only
/// payment-service holds it.
public struct PaymentCardOpeningKey: Sendable {
    let key: Curve25519.KeyAgreement.PrivateKey

    /// From its 32 raw bytes in base64url (43 characters).
    public init(base64URL text: String) throws {
        guard let raw = Base64URL.decode(Substring(text)), raw.count == 32,
            let key = try? Curve25519.KeyAgreement.PrivateKey(rawRepresentation: raw)
        else {
            throw PaymentCardError("not a payment card private key: expected 32 bytes in base64url (43 characters)")
        }
        self.key = key
    }

    private init(_ key: Curve25519.KeyAgreement.PrivateKey) { self.key = key }

    /// A new key pair from the system's cryptographic random source.
    public static func generate() -> PaymentCardOpeningKey { PaymentCardOpeningKey(Curve25519.KeyAgreement.PrivateKey()) }

    public var base64URL: String { Base64URL.encode(key.rawRepresentation) }

    /// The public half, for order-service.
    public var sealingKey: PaymentCardSealingKey { PaymentCardSealingKey(key.publicKey) }
}

/// A token or key that cannot be used; the message says which and never contains a card number.
public struct PaymentCardError: Error, CustomStringConvertible, Sendable {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// base64url without padding (RFC 4648 §5): letters, digits, `-` and `_` only.
enum Base64URL {
    static func encode<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
        Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ text: Substring) -> Data? {
        guard text.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_") }) else { return nil }
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        return Data(base64Encoded: base64)
    }
}
