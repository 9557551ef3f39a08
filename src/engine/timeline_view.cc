#include "engine/timeline_view.h"

#include <charconv>
#include <utility>

#include <opsorch/common/time.h>

namespace opsorch::engine {

bool TimelineCoalescer::IsRepeat(const TimelineRow& row) {
  if (row.kind != "deduplicated") return false;
  // Entries written before the metadata said so still tell it in their text.
  return !row.metadata.contains("severityFrom") &&
         row.body.find("(severity raised from ") == std::string::npos;
}

bool TimelineCoalescer::Push(TimelineRow&& row) {
  const bool repeat = IsRepeat(row);
  if (repeat && run_first_) {
    last_ = TimelineCursor{row.at, row.n};
    ++taken_;
    ++run_count_;
    run_last_ = std::move(row);
    return true;
  }
  CloseRun();
  if (out_.size() >= max_entries_) return false;
  last_ = TimelineCursor{row.at, row.n};
  ++taken_;
  if (repeat) {
    run_first_ = std::move(row);
    run_count_ = 1;
  } else {
    out_.push_back(std::move(row));
  }
  return true;
}

void TimelineCoalescer::CloseRun() {
  if (!run_first_) return;
  TimelineRow entry = std::move(*run_first_);
  run_first_.reset();
  if (run_count_ > 1) {
    JsonObject run{{"count", run_count_},
                   {"firstAt", FormatRfc3339Nano(Time::FromUnixNanos(entry.at))},
                   {"lastAt", FormatRfc3339Nano(Time::FromUnixNanos(run_last_.at))},
                   {"firstId", entry.id},
                   {"lastId", run_last_.id}};
    entry.body = std::to_string(run_count_) + " repeats; the last: " + run_last_.body;
    entry.metadata["coalesced"] = std::move(run);
  }
  run_count_ = 0;
  out_.push_back(std::move(entry));
}

std::vector<TimelineRow> TimelineCoalescer::Finish() {
  CloseRun();
  return std::move(out_);
}

std::string TimelineCursorText(const TimelineCursor& c) {
  return std::to_string(c.at) + "." + std::to_string(c.n);
}

std::optional<TimelineCursor> ParseTimelineCursor(std::string_view text) {
  const std::size_t dot = text.find('.');
  if (dot == std::string_view::npos) return std::nullopt;
  TimelineCursor c;
  const char* end = text.data() + text.size();
  auto a = std::from_chars(text.data(), text.data() + dot, c.at);
  auto n = std::from_chars(text.data() + dot + 1, end, c.n);
  if (a.ec != std::errc() || a.ptr != text.data() + dot || n.ec != std::errc() || n.ptr != end) {
    return std::nullopt;
  }
  return c;
}

}  // namespace opsorch::engine
