// The default view of an incident's timeline: runs of repeats ("deduplicated" entries: a
// flapping alert may add hundreds of thousands) come as one entry each, with their count and
// first and last times; an entry that raised the severity stays on its own. A pure function of
// the entries read in order, so it is tested as a table without a store.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <opsorch/engine/store.h>

namespace opsorch::engine {

class TimelineCoalescer {
 public:
  // At most `max_entries` entries come out.
  explicit TimelineCoalescer(std::size_t max_entries) : max_entries_(max_entries) {}

  // Takes the next entry (in (at, n) order). False when the page is full: the entry was not
  // taken, and the next page starts with it.
  bool Push(TimelineRow&& row);
  // Ends the page: the run in progress is closed. The entries, in order.
  std::vector<TimelineRow> Finish();
  // The position of the last entry taken (where the next page continues).
  TimelineCursor last() const { return last_; }
  std::size_t taken() const { return taken_; }

  // A repeat that may join a run: a "deduplicated" entry that did not change the severity.
  static bool IsRepeat(const TimelineRow& row);

 private:
  void CloseRun();

  const std::size_t max_entries_;
  std::vector<TimelineRow> out_;
  std::optional<TimelineRow> run_first_;
  TimelineRow run_last_;
  std::int64_t run_count_ = 0;
  TimelineCursor last_;
  std::size_t taken_ = 0;
};

// Cursors of timeline pages ("<at>.<n>"), opaque to clients.
std::string TimelineCursorText(const TimelineCursor& c);
std::optional<TimelineCursor> ParseTimelineCursor(std::string_view text);

}  // namespace opsorch::engine
