#include "src/enclave/reply_order.h"

#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"

namespace lockout::enclave {

uint64_t ReplyOrder::Reserve(size_t count) {
  const uint64_t first = next_;
  next_ += count;
  return first;
}

absl::Status ReplyOrder::Complete(uint64_t first, size_t count, std::string replies, bool close) {
  if (count == 0 || first < taken_ || first > next_ || count > next_ - first) {
    return absl::FailedPreconditionError(absl::StrCat("replies for [", first, ", +", count,
                                                      ") were not reserved (taken ", taken_,
                                                      ", reserved ", next_, ")"));
  }
  // The segment starting at or after `first` must start past our end, and the one before must
  // end at or before `first`.
  auto after = ready_.lower_bound(first);
  if (after != ready_.end() && after->first < first + count) {
    return absl::FailedPreconditionError(
        absl::StrCat("replies for [", first, ", +", count, ") completed twice"));
  }
  if (after != ready_.begin()) {
    const auto before = std::prev(after);
    if (before->first + before->second.count > first) {
      return absl::FailedPreconditionError(
          absl::StrCat("replies for [", first, ", +", count, ") completed twice"));
    }
  }
  ready_bytes_ += replies.size();
  ready_.emplace_hint(after, first,
                      Segment{.count = count, .replies = std::move(replies), .close = close});
  return absl::OkStatus();
}

size_t ReplyOrder::TakeReady(std::string& out, bool* close) {
  size_t taken = 0;
  while (!ready_.empty() && ready_.begin()->first == taken_) {
    auto it = ready_.begin();
    Segment& s = it->second;
    ready_bytes_ -= s.replies.size();
    if (out.empty()) {
      out.swap(s.replies);  // the common case: no copy
    } else {
      out += s.replies;
    }
    if (s.close) *close = true;
    taken_ += s.count;
    taken += s.count;
    ready_.erase(it);
  }
  return taken;
}

}  // namespace lockout::enclave
