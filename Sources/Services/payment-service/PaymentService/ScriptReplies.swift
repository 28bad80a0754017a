import RedisClient

// The replies of PaymentService's Lua scripts (`LuaScripts`, from the module's `.lua`
// files), each decoded in one place.

/// `charge-payment.lua`: the order's recorded outcome.
struct ChargePaymentReply: RedisScriptReply, Equatable {
    /// charged, declined or refunded.
    let status: String
    let chargedCents: Int
    /// Empty for a charge (refunded since or not); the decline's reason otherwise.
    let reason: String

    init?(reply: RedisReply) {
        guard let parts = reply.array, parts.count == 3, let status = parts[0].string,
            let charged = parts[1].string.flatMap({ Int($0) }), let reason = parts[2].string
        else { return nil }
        self.status = status
        chargedCents = charged
        self.reason = reason
    }
}

/// `refund-payment.lua`: the order's refunded cents.
struct RefundPaymentReply: RedisScriptReply, Equatable {
    let refundedCents: Int
    init?(reply: RedisReply) {
        guard let refunded = reply.string.flatMap({ Int($0) }) ?? reply.int else { return nil }
        refundedCents = refunded
    }
}
