// On-call computation cost: (a) who is on call now for 1,000 schedules of 3 layers each (with
// restrictions and overrides), (b) a year of one such schedule's final entries. Prints the
// median of several runs. Usage: opsorch-oncall-bench [runs]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <opsorch/paging/schedule.h>
#include <opsorch/tz/zone.h>

namespace {

using opsorch::paging::Layer;
using opsorch::paging::Override;
using opsorch::paging::Restriction;
using opsorch::paging::Schedule;

constexpr std::int64_t kDay = 86400;
constexpr std::int64_t kJan2026 = 1767225600;  // 2026-01-01T00:00:00Z

const char* const kZones[] = {"Europe/Berlin", "America/New_York", "Australia/Lord_Howe",
                              "Asia/Kathmandu", "UTC"};

Schedule MakeSchedule(int i) {
  Schedule s;
  s.id = "s" + std::to_string(i);
  s.name = "Schedule " + std::to_string(i);
  s.time_zone = kZones[i % 5];
  auto users = [&](int base) {
    std::vector<std::string> u;
    for (int k = 0; k < 5; ++k) u.push_back("user-" + std::to_string((i * 7 + base + k) % 500));
    return u;
  };
  // Top: weekly 24/7 rotation. Middle: daily business hours on weekdays. Bottom: weekend
  // nights, 8-hour turns.
  Layer top{"l1", "Week", kJan2026, 0, kJan2026 + 9 * 3600, 7 * kDay, users(0), {}};
  Layer mid{"l2", "Business", kJan2026, 0, kJan2026 + 9 * 3600, kDay, users(100), {}};
  for (int d = 1; d <= 5; ++d) {
    mid.restrictions.push_back(Restriction{Restriction::Type::kWeekly, 9 * 3600, 9 * 3600, d});
  }
  Layer bottom{"l3",
               "Weekend nights",
               kJan2026,
               0,
               kJan2026,
               8 * 3600,
               users(200),
               {Restriction{Restriction::Type::kWeekly, 20 * 3600, 12 * 3600, 6},
                Restriction{Restriction::Type::kWeekly, 20 * 3600, 12 * 3600, 7}}};
  s.layers = {top, mid, bottom};
  return s;
}

std::vector<Override> MakeOverrides(int i) {
  std::vector<Override> o;
  for (int k = 0; k < 4; ++k) {
    const std::int64_t start = kJan2026 + (i % 50 + k * 60) * kDay + 3600 * (k + 1);
    o.push_back(Override{"o" + std::to_string(k), start, start + 6 * 3600,
                         "override-" + std::to_string(k)});
  }
  return o;
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int runs = argc > 1 ? std::max(1, std::atoi(argv[1])) : 15;
  constexpr int kSchedules = 1000;
  std::vector<Schedule> schedules;
  std::vector<std::vector<Override>> overrides;
  std::vector<opsorch::tz::Zone> zones;
  for (int i = 0; i < kSchedules; ++i) {
    schedules.push_back(MakeSchedule(i));
    overrides.push_back(MakeOverrides(i));
    auto z = opsorch::tz::Zone::Locate(schedules.back().time_zone);
    if (!z) {
      std::fprintf(stderr, "%s\n", z.error().message.c_str());
      return 1;
    }
    zones.push_back(*z);  // resolved once, as a caller keeps them (tzdb load excluded)
  }
  const std::int64_t now = kJan2026 + 123 * kDay + 13 * 3600 + 17 * 60;

  std::vector<double> a_ms, b_ms;
  std::size_t covered = 0, entries = 0;
  for (int r = 0; r < runs; ++r) {
    covered = 0;
    auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kSchedules; ++i) {
      // Each run asks about a slightly different instant so nothing is trivially repeated.
      if (opsorch::paging::OnCallAt(schedules[i], zones[i], overrides[i], now + r * 61 + i)) {
        ++covered;
      }
    }
    auto t1 = std::chrono::steady_clock::now();
    a_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());

    t0 = std::chrono::steady_clock::now();
    const auto year = opsorch::paging::FinalSchedule(
        schedules[r % 5], zones[r % 5], overrides[r % 5], kJan2026, kJan2026 + 365 * kDay);
    t1 = std::chrono::steady_clock::now();
    entries = year.size();
    b_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
  }
  std::printf(
      "(a) on call now, %d schedules x 3 layers (restrictions, 4 overrides each): "
      "median %.3f ms over %d runs (%zu covered)\n",
      kSchedules, Median(a_ms), runs, covered);
  std::printf(
      "(b) final schedule for a year, one schedule: median %.3f ms over %d runs "
      "(%zu entries)\n",
      Median(b_ms), runs, entries);
  return 0;
}
