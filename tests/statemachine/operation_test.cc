// Typed operations (operation.h): the codec of op structs, the check registered with each
// command and query, and the handler wrapping.
#include "consensus/statemachine/operation.h"

#include <gtest/gtest.h>

#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "tests/statemachine/harness.h"

namespace copycat::statemachine {
namespace {

enum class Colour : uint8_t { red = 0, green = 1 };
constexpr uint8_t codec_enum_count(Colour) { return 2; }

struct Item {
    std::string name;
    int64_t weight = 0;
    static auto fields(auto& s) { return std::tie(s.name, s.weight); }
    bool operator==(const Item&) const = default;
};

// A command using every kind of field the codec supports.
struct Everything {
    static constexpr std::string_view type = "test.everything";
    bool flag = false;
    uint64_t count = 0;
    int64_t delta = 0;
    std::string text;
    Bytes blob;
    Colour colour = Colour::red;
    std::optional<Bytes> maybe;
    std::vector<Item> items;
    static auto fields(auto& s) {
        return std::tie(s.flag, s.count, s.delta, s.text, s.blob, s.colour, s.maybe, s.items);
    }
    CompactionMode compaction() const {
        return flag ? CompactionMode::tombstone : CompactionMode::release;
    }
    Status validate() const {
        if (text == "invalid") return invalid_argument("test.everything: text is invalid");
        return Status::ok();
    }
    struct Output {
        std::vector<Item> items;
        static auto fields(auto& s) { return std::tie(s.items); }
        bool operator==(const Output&) const = default;
    };
    bool operator==(const Everything&) const = default;
};

// A query with a hand-written codec instead of fields().
struct Lookup {
    static constexpr std::string_view type = "test.lookup";
    uint64_t key = 0;
    void encode(codec::Writer& out) const { out.u64(key); }
    bool decode(codec::Reader& in) { return in.u64(key); }
    struct Output {
        std::string value;
        static auto fields(auto& s) { return std::tie(s.value); }
    };
};

struct Happened {
    static constexpr std::string_view name = "test.happened";
    uint64_t index = 0;
    static auto fields(auto& s) { return std::tie(s.index); }
};

static_assert(CommandType<Everything>);
static_assert(!QueryType<Everything>);
static_assert(QueryType<Lookup>);
static_assert(EventType<Happened>);

Everything sample() {
    Everything op;
    op.flag = true;
    op.count = 300;
    op.delta = -7;
    op.text = "hello";
    op.blob = {0, 1, 255};
    op.colour = Colour::green;
    op.maybe = Bytes{9};
    op.items = {Item{"a", 1}, Item{"b", -2}};
    return op;
}

TEST(OperationCodec, RoundTripsEveryFieldKind) {
    const Everything op = sample();
    Operation operation = make_operation(op);
    EXPECT_EQ(operation.type, "test.everything");
    Result<Everything> decoded = decode_argument<Everything>(operation.argument);
    ASSERT_TRUE(decoded.is_ok()) << decoded.status().to_string();
    EXPECT_EQ(*decoded, op);
}

TEST(OperationCodec, RefusesEveryTruncationAndTrailingBytes) {
    const Bytes full = encode_to_bytes(sample());
    for (size_t size = 0; size < full.size(); ++size) {
        Bytes cut(full.begin(), full.begin() + static_cast<ptrdiff_t>(size));
        EXPECT_FALSE(decode_argument<Everything>(cut).is_ok()) << "truncated to " << size;
    }
    Bytes longer = full;
    longer.push_back(0);
    Result<Everything> decoded = decode_argument<Everything>(longer);
    ASSERT_FALSE(decoded.is_ok());
    EXPECT_EQ(decoded.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(decoded.status().message().find("test.everything"), std::string::npos);
}

TEST(OperationCodec, RefusesAnEnumValueOutOfRange) {
    Everything op = sample();
    Bytes bytes = encode_to_bytes(op);
    // flag, count (varint 300 = 2 bytes), delta (1), text (1 + 5), blob (1 + 3): colour next.
    const size_t colour_at = 1 + 2 + 1 + 6 + 4;
    ASSERT_EQ(bytes[colour_at], 1);
    bytes[colour_at] = 2;
    EXPECT_FALSE(decode_argument<Everything>(bytes).is_ok());
}

TEST(OperationCodec, RefusesAHostileVectorCountWithoutAllocating) {
    Everything op;
    op.items = {Item{"x", 1}};
    Bytes bytes = encode_to_bytes(op);
    // The items count is the byte before the single item (name length 1, 'x', weight 2).
    const size_t count_at = bytes.size() - 4;
    ASSERT_EQ(bytes[count_at], 1);
    bytes[count_at] = 0xff;
    bytes.insert(bytes.begin() + static_cast<ptrdiff_t>(count_at) + 1, {0xff, 0xff, 0x7f});
    EXPECT_FALSE(decode_argument<Everything>(bytes).is_ok());
}

TEST(OperationCodec, HandWrittenCodecRoundTrips) {
    Operation operation = make_operation(Lookup{0x0102030405060708ULL});
    ASSERT_EQ(operation.argument.size(), 8u);
    Result<Lookup> decoded = decode_argument<Lookup>(operation.argument);
    ASSERT_TRUE(decoded.is_ok());
    EXPECT_EQ(decoded->key, 0x0102030405060708ULL);
    EXPECT_FALSE(decode_argument<Lookup>(Bytes{1, 2, 3}).is_ok());
}

TEST(OperationCodec, DecodeOutputAndEventRefuseGarbage) {
    Everything::Output output{{Item{"k", 5}}};
    Result<Everything::Output> decoded =
        decode_output<Everything>(encode_output<Everything>(output));
    ASSERT_TRUE(decoded.is_ok());
    EXPECT_EQ(*decoded, output);
    Result<Everything::Output> garbage = decode_output<Everything>(Bytes{7, 7, 7});
    ASSERT_FALSE(garbage.is_ok());
    EXPECT_NE(garbage.status().message().find("test.everything"), std::string::npos);
    EXPECT_FALSE(decode_event<Happened>(Bytes{0x80}).is_ok());
    EXPECT_EQ(decode_event<Happened>(encode_to_bytes(Happened{42}))->index, 42u);
}

// A state machine registering the two test operations through the typed helpers.
class TypedMachine final : public StateMachine {
public:
    void configure(Executor& executor) override {
        register_command<Everything>(
            executor, [this](Everything op, Commit commit) -> Result<Everything::Output> {
                if (op.count == 0) return conflict("count is zero");
                last_index = commit.index();
                if (Session* session = executor_context->sessions().find(commit.session())) {
                    EXPECT_TRUE(publish(*session, Happened{commit.index()}).is_ok());
                }
                return Everything::Output{op.items};
            });
        register_query<Lookup>(executor, [](const Lookup& op, const Commit&) {
            return Result<Lookup::Output>(Lookup::Output{std::to_string(op.key)});
        });
        executor_context = &executor.context();
    }
    Context* executor_context = nullptr;
    Index last_index = 0;
};

class TypedRegistration : public ::testing::Test {
protected:
    TypedRegistration()
        : harness_(std::make_unique<TypedMachine>()),
          machine_(static_cast<TypedMachine&>(harness_.state_machine())) {}

    testing::Harness harness_;
    TypedMachine& machine_;
};

TEST_F(TypedRegistration, CheckReturnsTheCommandsOwnCompactionMode) {
    Everything op = sample();
    op.flag = true;
    EXPECT_EQ(*harness_.check_command(make_operation(op)), CompactionMode::tombstone);
    op.flag = false;
    EXPECT_EQ(*harness_.check_command(make_operation(op)), CompactionMode::release);
}

TEST_F(TypedRegistration, CheckRefusesGarbageAndInvalidArgumentsNamingTheType) {
    Result<CompactionMode> garbage = harness_.check_command({"test.everything", Bytes{1, 2}});
    ASSERT_FALSE(garbage.is_ok());
    EXPECT_EQ(garbage.status().code(), StatusCode::invalid_argument);
    EXPECT_NE(garbage.status().message().find("test.everything"), std::string::npos);

    Everything invalid = sample();
    invalid.text = "invalid";
    Result<CompactionMode> refused = harness_.check_command(make_operation(invalid));
    ASSERT_FALSE(refused.is_ok());
    EXPECT_EQ(refused.status().message(), "test.everything: text is invalid");

    EXPECT_FALSE(harness_.check_query({"test.lookup", Bytes{1}}).is_ok());
}

TEST_F(TypedRegistration, HandlerGetsTheDecodedOperationAndCommit) {
    SessionId session = harness_.open_session();
    Result<Everything::Output> output = harness_.run(session, sample());
    ASSERT_TRUE(output.is_ok()) << output.status().to_string();
    EXPECT_EQ(output->items, sample().items);
    EXPECT_EQ(machine_.last_index, harness_.last_index());
    std::vector<Happened> events = harness_.take_events<Happened>(session);
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].index, harness_.last_index());
}

TEST_F(TypedRegistration, HandlerErrorReachesTheClientAndTheCommitIsReleased) {
    SessionId session = harness_.open_session();
    Everything op = sample();
    op.count = 0;
    Result<Everything::Output> output = harness_.run(session, op);
    ASSERT_FALSE(output.is_ok());
    EXPECT_EQ(output.status().code(), StatusCode::conflict);
    EXPECT_TRUE(harness_.released(harness_.last_index()));
}

TEST_F(TypedRegistration, GarbageThatReachesApplyIsAnErrorNotACrash) {
    SessionId session = harness_.open_session();
    Output output = harness_.apply_unchecked(session, {"test.everything", Bytes{0xff}});
    ASSERT_FALSE(output.is_ok());
    EXPECT_EQ(output.status().code(), StatusCode::invalid_argument);
    EXPECT_TRUE(harness_.released(harness_.last_index()));
}

TEST_F(TypedRegistration, QueryAnswersFromItsDecodedArgument) {
    SessionId session = harness_.open_session();
    Result<Lookup::Output> output = harness_.ask(session, Lookup{77});
    ASSERT_TRUE(output.is_ok());
    EXPECT_EQ(output->value, "77");
}

}  // namespace
}  // namespace copycat::statemachine
