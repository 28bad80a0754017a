import Foundation
import Testing

@testable import PaymentCards

@Suite("Payment card tokens")
struct PaymentCardTokenTests {
    let key = PaymentCardOpeningKey.generate()

    @Test func aTokenOpensWithThePrivateKeyForItsOrderOnly() throws {
        let token = try PaymentCardToken.seal(card: "4242424242424242", orderID: "o-1", to: key.sealingKey)
        #expect(!token.contains("4242424242424242"))
        #expect(token.hasPrefix("pt1."))
        #expect(try PaymentCardToken.open(token, orderID: "o-1", with: key) == "4242424242424242")
        #expect(throws: PaymentCardError.self) { try PaymentCardToken.open(token, orderID: "o-2", with: key) }
        #expect(throws: PaymentCardError.self) { try PaymentCardToken.open(token, orderID: "o-1", with: .generate()) }
    }

    @Test func theSameCardGivesADifferentTokenEachTime() throws {
        let first = try PaymentCardToken.seal(card: "4000000000000002", orderID: "o", to: key.sealingKey)
        let second = try PaymentCardToken.seal(card: "4000000000000002", orderID: "o", to: key.sealingKey)
        #expect(first != second)
    }

    @Test func aTamperedOrMalformedTokenIsRefusedWithoutTheNumberInTheMessage() throws {
        let token = try PaymentCardToken.seal(card: "4242424242424242", orderID: "o", to: key.sealingKey)
        var bytes = Array(token)
        bytes[bytes.count - 3] = bytes[bytes.count - 3] == "A" ? "B" : "A"
        for bad in [String(bytes), "", "pt1.", "pt1.a.b", "pt2" + token.dropFirst(3), token + ".x", "4242424242424242"] {
            do {
                _ = try PaymentCardToken.open(bad, orderID: "o", with: key)
                Issue.record("\(bad) opened")
            } catch let error as PaymentCardError {
                #expect(!error.description.contains("4242"))
            }
        }
    }

    @Test func keysRoundTripAsBase64URLAndBadKeysAreRefused() throws {
        let text = key.base64URL
        #expect(text.count == 43)
        let again = try PaymentCardOpeningKey(base64URL: text)
        #expect(again.sealingKey.base64URL == key.sealingKey.base64URL)
        let token = try PaymentCardToken.seal(
            card: "5555555555554444", orderID: "o", to: try PaymentCardSealingKey(base64URL: key.sealingKey.base64URL))
        #expect(try PaymentCardToken.open(token, orderID: "o", with: again) == "5555555555554444")
        for bad in ["", "short", String(repeating: "A", count: 44), String(repeating: "+", count: 43)] {
            #expect(throws: PaymentCardError.self) { try PaymentCardOpeningKey(base64URL: bad) }
            #expect(throws: PaymentCardError.self) { try PaymentCardSealingKey(base64URL: bad) }
        }
    }
}
