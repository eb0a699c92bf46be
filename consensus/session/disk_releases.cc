#include "consensus/session/disk_releases.h"

#include <algorithm>
#include <bit>

namespace copycat::session {

void DiskReleases::add(std::span<const Release> releases) {
    waiting_.insert(waiting_.end(), releases.begin(), releases.end());
}

std::optional<DiskReleases::Batch> DiskReleases::take(Index sealed_through, Index pending) {
    Batch batch;
    batch.reset = reset_due_;
    if (batch.reset) append_sent(&batch.indexes);
    while (!waiting_.empty() && waiting_.front().at <= sealed_through) {
        const Index index = waiting_.front().index;
        waiting_.pop_front();
        batch.indexes.push_back(index);
        mark_sent(index);
    }
    batch.global_cap = pending;
    for (const Release& release : waiting_) {
        batch.global_cap = std::min(batch.global_cap, release.index);
    }
    if (!batch.reset && batch.indexes.empty() && last_cap_ == batch.global_cap) {
        return std::nullopt;
    }
    reset_due_ = false;
    last_cap_ = batch.global_cap;
    return batch;
}

void DiskReleases::clear() {
    waiting_.clear();
    sent_.clear();
    sent_count_ = 0;
    reset_due_ = true;
    last_cap_.reset();
}

void DiskReleases::mark_sent(Index index) {
    Chunk& chunk = sent_[index / chunk_bits];
    if (chunk.empty()) chunk.assign(chunk_bits / 64, 0);
    const Index bit = index % chunk_bits;
    uint64_t& word = chunk[bit / 64];
    const uint64_t mask = uint64_t{1} << (bit % 64);
    if ((word & mask) == 0) ++sent_count_;
    word |= mask;
}

void DiskReleases::append_sent(std::vector<Index>* out) const {
    out->reserve(out->size() + sent_count_);
    for (const auto& [number, chunk] : sent_) {
        for (size_t w = 0; w < chunk.size(); ++w) {
            for (uint64_t word = chunk[w]; word != 0; word &= word - 1) {
                out->push_back(number * chunk_bits + w * 64 +
                               static_cast<Index>(std::countr_zero(word)));
            }
        }
    }
}

}  // namespace copycat::session
