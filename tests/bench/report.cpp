// report.cpp — medians to Markdown, SVG and target lines. See report.hpp.
//
// Ratios are ours / peer, computed on the per-operation medians: below 1,
// ours is faster. The chart puts every ratio of a row on one log2 axis, so
// "2x slower" and "2x faster" are the same distance from the 1x line.
#include "report.hpp"

#include <sched.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

namespace pf::bench {

// ---- collecting -------------------------------------------------------------

namespace {

double to_ns(double value, benchmark::TimeUnit unit) {
  switch (unit) {
    case benchmark::kNanosecond: return value;
    case benchmark::kMicrosecond: return value * 1e3;
    case benchmark::kMillisecond: return value * 1e6;
    case benchmark::kSecond: return value * 1e9;
  }
  return value;
}

}  // namespace

void CollectingReporter::ReportRuns(const std::vector<Run>& runs) {
  ConsoleReporter::ReportRuns(runs);
  for (const Run& run : runs) {
    const std::string& name = run.run_name.function_name;
    if (run.error_occurred) {
      errors.push_back(name + ": " + run.error_message);
      continue;
    }
    const bool median = run.run_type == Run::RT_Aggregate && run.aggregate_name == "median";
    const bool single = run.run_type == Run::RT_Iteration && run.repetitions <= 1;
    if (!median && !single) continue;
    const size_t slash = name.rfind('/');
    if (slash == std::string::npos) continue;
    Result r;
    r.case_name = name.substr(0, slash);
    r.allocator = name.substr(slash + 1);
    r.order = run.family_index;
    for (const auto& [key, counter] : run.counters) r.counters[key] = counter.value;
    const bool real = run.run_name.time_type.find("real") != std::string::npos;
    const double per_iteration =
        to_ns(real ? run.GetAdjustedRealTime() : run.GetAdjustedCPUTime(), run.time_unit);
    const double ops = r.counters.count("ops") ? r.counters["ops"] : 1.0;
    r.per_op = per_iteration / (ops > 0 ? ops : 1.0);
    results.push_back(std::move(r));
  }
}

// ---- machine ---------------------------------------------------------------

double load_average_1min() {
  double load[1] = {-1};
  return getloadavg(load, 1) == 1 ? load[0] : -1;
}

std::string describe_machine() {
  std::string cpu = "unknown CPU";
  std::ifstream info("/proc/cpuinfo");
  for (std::string line; std::getline(info, line);) {
    if (line.rfind("model name", 0) == 0) {
      cpu = line.substr(line.find(':') + 2);
      break;
    }
  }
  const long cores = sysconf(_SC_NPROCESSORS_ONLN);
  // Under taskset or a container's cpuset the run had fewer: say so, since
  // the cross-thread rows need two CPUs to mean what they say.
  cpu_set_t mask;
  const int usable = sched_getaffinity(0, sizeof mask, &mask) == 0 ? CPU_COUNT(&mask) : 0;
  char usable_text[48] = "";
  if (usable > 0 && usable < cores) std::snprintf(usable_text, sizeof usable_text, " (%d usable)", usable);
  const double mem_gib = static_cast<double>(sysconf(_SC_PHYS_PAGES)) *
                         static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024 * 1024);
  utsname u{};
  uname(&u);
  char buf[512];
  std::snprintf(buf, sizeof buf, "%s, %ld cores%s, %.1f GiB, Linux %s, g++ %s", cpu.c_str(), cores,
                usable_text, mem_gib, u.release, __VERSION__);
  return buf;
}

// ---- formatting ------------------------------------------------------------

namespace {

// Our rows; the bulk calls (issue 9) are reported beside, with no target.
const char* const kOurs[] = {"ours", "kmalloc", "kmalloc-sized", "cache", "ours-bulk", "cache-bulk"};
const char* const kPeers[] = {"ideal", "memset", "glibc", "mimalloc", "jemalloc", "tcmalloc", "mmap"};
const char* const kPeerColours[] = {"#000000", "#000000", "#1f77b4", "#ff7f0e",
                                    "#2ca02c", "#d62728", "#9467bd"};

bool is_ours(const std::string& a) {
  for (const char* o : kOurs)
    if (a == o) return true;
  return false;
}

std::string fmt(const char* f, double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, f, v);
  return buf;
}

std::string fmt_value(double v, const std::string& unit) {
  if (unit != "ns") return fmt(v < 100 ? "%.1f" : "%.0f", v);
  if (v < 10) return fmt("%.2f ns", v);
  if (v < 1000) return fmt("%.1f ns", v);
  if (v < 1e6) return fmt("%.2f µs", v / 1e3);
  return fmt("%.2f ms", v / 1e6);
}

std::string fmt_ratio(double r) { return fmt(r < 0.1 ? "%.3f×" : r < 10 ? "%.2f×" : "%.1f×", r); }

struct Index {
  std::vector<std::string> cases;  // in registration order
  std::map<std::string, std::map<std::string, const Result*>> by_case;

  explicit Index(const std::vector<Result>& results) {
    for (const Result& r : results) {
      if (!by_case.count(r.case_name)) cases.push_back(r.case_name);
      by_case[r.case_name][r.allocator] = &r;
    }
  }
  const Result* find(const std::string& c, const std::string& a) const {
    auto it = by_case.find(c);
    if (it == by_case.end()) return nullptr;
    auto jt = it->second.find(a);
    return jt == it->second.end() ? nullptr : jt->second;
  }
};

struct Section {
  const char* prefix;
  const char* title;
  const char* what;
  std::vector<std::pair<const char*, const char*>> extra;  // counter key, column title
};

const std::vector<Section>& sections() {
  static const std::vector<Section> s = {
      {"pages.pair", "Order-0 alloc+free pairs (workload 1)",
       "per alloc+free pair of one 4 KiB page; peers use their 4 KiB-aligned allocation call", {}},
      {"pages.batch", "Order-0 batches (workload 1)",
       "per page: a batch of N allocated, then freed in allocation, reverse or random order", {}},
      {"pages.mixed", "Mixed orders 0..10 at 50% occupancy (workload 2)",
       "per operation (one alloc or one free) of a fixed-seed trace; peers allocate each block "
       "aligned to its size",
       {{"largest_free_order", "largest free order at 50%"}, {"alloc_failures", "failed allocs"}}},
      {"slab.", "Objects: kmalloc and a dedicated cache vs malloc (workload 4)",
       "per alloc+free pair of one object; batches of 1024 are freed in allocation order", {}},
      {"xthread.", "Cross-thread: one thread allocates, another frees (workload 5)",
       "per item, wall-clock, batches of 256 handed over a ring", {}},
      {"init.", "Initialisation vs the memset floor (workloads 6 and 7)",
       "per initialisation of the whole map; the floor is one memset of 16 bytes per frame of every range, in the same window from the first descriptor array on",
       {{"desc_bytes_per_frame", "descriptor B/frame"},
        {"reserved_bytes_per_frame", "reserved B/frame"}}},
  };
  return s;
}

bool in_section(const std::string& c, const Section& s) { return c.rfind(s.prefix, 0) == 0; }

// One table per section: rows are (case, our allocator), columns the peers.
std::string section_table(const Index& idx, const Section& sec, const std::string& unit) {
  std::vector<std::string> cases;
  std::set<std::string> peers_seen;
  for (const std::string& c : idx.cases) {
    if (!in_section(c, sec)) continue;
    cases.push_back(c);
    for (const auto& [a, r] : idx.by_case.at(c))
      if (!is_ours(a)) peers_seen.insert(a);
  }
  if (cases.empty()) return "";
  std::vector<std::string> peers;
  for (const char* p : kPeers)
    if (peers_seen.count(p)) peers.push_back(p);

  std::ostringstream md;
  md << "\n### " << sec.title << "\n\n" << (unit == "ns" ? "Time" : "Instructions") << " "
     << sec.what << ". Cells: peer's figure (ours / peer).\n\n";
  md << "| case | ours | " << (unit == "ns" ? "time" : "instr");
  for (const std::string& p : peers) md << " | " << p;
  for (const auto& e : sec.extra) md << " | " << e.second;
  md << " |\n|---|---|---:";
  for (size_t i = 0; i < peers.size() + sec.extra.size(); ++i) md << "|---:";
  md << "|\n";
  for (const std::string& c : cases) {
    for (const char* o : kOurs) {
      const Result* ours = idx.find(c, o);
      if (ours == nullptr) continue;
      md << "| " << c << " | " << o << " | **" << fmt_value(ours->per_op, unit) << "**";
      for (const std::string& p : peers) {
        const Result* peer = idx.find(c, p);
        md << " | ";
        if (peer == nullptr || peer->per_op <= 0) {
          md << "–";
          continue;
        }
        md << fmt_value(peer->per_op, unit) << " (" << fmt_ratio(ours->per_op / peer->per_op) << ")";
      }
      for (const auto& e : sec.extra) {
        auto it = ours->counters.find(e.first);
        md << " | " << (it == ours->counters.end() ? "–" : fmt("%.4g", it->second));
      }
      md << " |\n";
    }
  }
  return md.str();
}

std::string high_order_table(const Index& idx) {
  std::ostringstream md;
  bool any = false;
  for (const std::string& c : idx.cases) {
    if (c.rfind("pages.highorder", 0) != 0) continue;
    const Result* r = idx.find(c, "ours");
    if (r == nullptr) continue;
    if (!any) {
      md << "\n### High order after fragmentation (workload 3)\n\n"
            "1 GiB filled with order-0 blocks, half of them freed (scattered: frames picked "
            "independently; clustered: alternating runs of 1..2048 frames), then order-9 blocks "
            "taken until one fails. The oracle counts the 2 MiB-aligned ranges whose 512 frames "
            "were all freed.\n\n"
            "| case | order-9 blocks | oracle | equal | frames freed |\n|---|---:|---:|---|---:|\n";
      any = true;
    }
    const double got = r->counters.count("order9_successes") ? r->counters.at("order9_successes") : -1;
    const double oracle = r->counters.count("oracle") ? r->counters.at("oracle") : -1;
    md << "| " << c << " | " << fmt("%.0f", got) << " | " << fmt("%.0f", oracle) << " | "
       << (got == oracle ? "yes" : "**no**") << " | "
       << fmt("%.0f", r->counters.count("freed_frames") ? r->counters.at("freed_frames") : -1)
       << " |\n";
  }
  return md.str();
}

// ---- targets ---------------------------------------------------------------

constexpr double kAtTolerance = 1.05;  // "at" the peer: within 5%, the noise of a median here

struct Verdict {
  bool met;
  bool property;  // a property (not a time): counts as a failure in smoke runs
  std::string text;
  std::string row;  // "case/ours-variant" for the chart, may be empty
};

std::vector<Verdict> check_targets(const Index& idx, const std::string& unit) {
  std::vector<Verdict> v;
  auto add = [&](bool met, bool property, std::string text, std::string row = "") {
    v.push_back({met, property, std::move(text), std::move(row)});
  };
  const std::string u = unit == "ns" ? " ns" : " instr";
  auto num = [&](double x) { return fmt(x < 100 ? "%.2f" : "%.0f", x) + u; };

  // Order-0 pair.
  if (const Result* ours = idx.find("pages.pair", "ours")) {
    if (const Result* ideal = idx.find("pages.pair", "ideal")) {
      const double r = ours->per_op / ideal->per_op;
      add(r <= 2.0, false,
          "order-0 pair within 2x of the ideal array stack: ours " + num(ours->per_op) +
              ", ideal " + num(ideal->per_op) + " (" + fmt_ratio(r) + ")",
          "pages.pair/ours");
    }
    for (const char* p : {"glibc", "mimalloc", "jemalloc", "tcmalloc", "mmap"}) {
      const Result* peer = idx.find("pages.pair", p);
      if (peer == nullptr) continue;
      add(ours->per_op < peer->per_op, false,
          std::string("order-0 pair ahead of ") + p + ": ours " + num(ours->per_op) + ", " + p +
              " " + num(peer->per_op) + " (" + fmt_ratio(ours->per_op / peer->per_op) + ")",
          "pages.pair/ours");
    }
  }
  // Order-0 batch of 16384.
  for (const std::string& c : idx.cases) {
    if (c.rfind("pages.batch16384", 0) != 0) continue;
    const Result* ours = idx.find(c, "ours");
    if (ours == nullptr) continue;
    for (const char* p : {"glibc", "mimalloc", "jemalloc", "tcmalloc", "mmap"}) {
      const Result* peer = idx.find(c, p);
      if (peer == nullptr) continue;
      add(ours->per_op < peer->per_op, false,
          c + " ahead of " + p + ": ours " + num(ours->per_op) + ", " + p + " " +
              num(peer->per_op) + " (" + fmt_ratio(ours->per_op / peer->per_op) + ")",
          c + "/ours");
    }
  }
  // Cross-thread (issue 9): pages and 64-byte objects ahead of every peer.
  for (const std::string& c : idx.cases) {
    if (c.rfind("xthread.", 0) != 0) continue;
    for (const char* o : {"ours", "kmalloc", "cache"}) {
      const Result* ours = idx.find(c, o);
      if (ours == nullptr) continue;
      for (const char* p : {"glibc", "mimalloc", "jemalloc", "tcmalloc", "mmap"}) {
        const Result* peer = idx.find(c, p);
        if (peer == nullptr) continue;
        add(ours->per_op < peer->per_op, false,
            c + " " + o + " ahead of " + p + ": ours " + num(ours->per_op) + ", " + p + " " +
                num(peer->per_op) + " (" + fmt_ratio(ours->per_op / peer->per_op) + ")",
            c + "/" + o);
      }
    }
  }
  // Slab at or ahead of the better of mimalloc and tcmalloc.
  for (const std::string& c : idx.cases) {
    if (c.rfind("slab.", 0) != 0) continue;
    const Result* mi = idx.find(c, "mimalloc");
    const Result* tc = idx.find(c, "tcmalloc");
    if (mi == nullptr && tc == nullptr) continue;
    const Result* best = (mi == nullptr || (tc != nullptr && tc->per_op < mi->per_op)) ? tc : mi;
    for (const char* o : {"kmalloc", "kmalloc-sized", "cache"}) {
      const Result* ours = idx.find(c, o);
      if (ours == nullptr) continue;
      const double r = ours->per_op / best->per_op;
      add(r <= kAtTolerance, false,
          c + " " + o + " at or ahead of the better of mimalloc/tcmalloc (" + best->allocator +
              "): ours " + num(ours->per_op) + ", " + best->allocator + " " + num(best->per_op) +
              " (" + fmt_ratio(r) + ")",
          c + "/" + o);
    }
  }
  // Initialisation within 2x of memset; descriptor bytes.
  double desc_bytes = -1;
  for (const std::string& c : idx.cases) {
    if (c.rfind("init.", 0) != 0) continue;
    const Result* ours = idx.find(c, "ours");
    const Result* floor = idx.find(c, "memset");
    if (ours == nullptr) continue;
    if (ours->counters.count("desc_bytes_per_frame"))
      desc_bytes = std::max(desc_bytes, ours->counters.at("desc_bytes_per_frame"));
    if (floor == nullptr) continue;
    const double r = ours->per_op / floor->per_op;
    add(r <= 2.0, false,
        c + " within 2x of the memset floor: ours " + fmt_value(ours->per_op, unit) + ", memset " +
            fmt_value(floor->per_op, unit) + " (" + fmt_ratio(r) + ")",
        c + "/ours");
  }
  if (desc_bytes >= 0)
    add(desc_bytes <= 16, true,
        "at most 16 descriptor bytes per frame: " + fmt("%.0f", desc_bytes) + " bytes");
  // High order equals the oracle.
  for (const std::string& c : idx.cases) {
    if (c.rfind("pages.highorder", 0) != 0) continue;
    const Result* r = idx.find(c, "ours");
    if (r == nullptr || !r->counters.count("oracle")) continue;
    const double got = r->counters.at("order9_successes");
    const double oracle = r->counters.at("oracle");
    add(got == oracle, true,
        c + " equal to the oracle: " + fmt("%.0f", got) + " order-9 blocks, oracle " +
            fmt("%.0f", oracle));
  }
  return v;
}

// ---- chart -----------------------------------------------------------------

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '&') out += "&amp;";
    else if (ch == '<') out += "&lt;";
    else if (ch == '>') out += "&gt;";
    else out += ch;
  }
  return out;
}

std::string svg_chart(const Index& idx, const std::set<std::string>& missed_rows,
                      const std::string& title, const std::string& subtitle) {
  struct Row {
    std::string label;
    bool header = false;
    bool missed = false;
    std::vector<std::pair<size_t, double>> points;  // peer index, ratio
  };
  std::vector<Row> rows;
  double lo = 0, hi = 0;  // log2 range of all ratios
  for (const Section& sec : sections()) {
    bool first = true;
    for (const std::string& c : idx.cases) {
      if (!in_section(c, sec)) continue;
      for (const char* o : kOurs) {
        const Result* ours = idx.find(c, o);
        if (ours == nullptr) continue;
        Row row;
        row.label = c + (std::string(o) == "ours" ? "" : std::string(" · ") + o);
        row.missed = missed_rows.count(c + "/" + o) > 0;
        for (size_t p = 0; p < std::size(kPeers); ++p) {
          const Result* peer = idx.find(c, kPeers[p]);
          if (peer == nullptr || peer->per_op <= 0 || ours->per_op <= 0) continue;
          const double l = std::log2(ours->per_op / peer->per_op);
          row.points.push_back({p, l});
          lo = std::min(lo, l);
          hi = std::max(hi, l);
        }
        if (row.points.empty()) continue;
        if (first) {
          rows.push_back(Row{.label = sec.title, .header = true});
          first = false;
        }
        rows.push_back(std::move(row));
      }
    }
  }
  const int lo_tick = std::max(-10, static_cast<int>(std::floor(lo)));
  const int hi_tick = std::min(8, std::max(1, static_cast<int>(std::ceil(hi))));
  const double label_w = 300, plot_w = 620, right = 30, top = 78, row_h = 15, bottom = 40;
  const double width = label_w + plot_w + right;
  const double height = top + row_h * static_cast<double>(rows.size()) + bottom;
  auto x_of = [&](double l) {
    l = std::clamp(l, static_cast<double>(lo_tick), static_cast<double>(hi_tick));
    return label_w + (l - lo_tick) / (hi_tick - lo_tick) * plot_w;
  };

  std::ostringstream s;
  s << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << width << "\" height=\"" << height
    << "\" viewBox=\"0 0 " << width << " " << height
    << "\" font-family=\"DejaVu Sans, Arial, sans-serif\" font-size=\"11\">\n";
  s << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
  s << "<text x=\"10\" y=\"20\" font-size=\"15\" font-weight=\"bold\">" << xml_escape(title)
    << "</text>\n";
  s << "<text x=\"10\" y=\"38\" fill=\"#444\">" << xml_escape(subtitle) << "</text>\n";
  // Legend.
  double lx = 10;
  for (size_t p = 0; p < std::size(kPeers); ++p) {
    if (p == 1) continue;  // memset shares ideal's black: one legend entry "floor"
    s << "<circle cx=\"" << lx + 5 << "\" cy=\"56\" r=\"4.5\" fill=\"" << kPeerColours[p]
      << "\"/><text x=\"" << lx + 14 << "\" y=\"60\">" << (p == 0 ? "floor (ideal/memset)" : kPeers[p])
      << "</text>\n";
    lx += p == 0 ? 140 : 90;
  }
  s << "<text x=\"" << lx + 10 << "\" y=\"60\" fill=\"#b00\">red label: a target missed</text>\n";
  // Grid.
  const double plot_top = top - 6, plot_bottom = top + row_h * static_cast<double>(rows.size());
  for (int t = lo_tick; t <= hi_tick; ++t) {
    const double x = x_of(t);
    s << "<line x1=\"" << x << "\" y1=\"" << plot_top << "\" x2=\"" << x << "\" y2=\""
      << plot_bottom << "\" stroke=\"" << (t == 0 ? "#333" : "#ddd") << "\" stroke-width=\""
      << (t == 0 ? 1.5 : 1) << "\"/>\n";
    std::string tick = t >= 0 ? std::to_string(1 << t) + "×" : "1/" + std::to_string(1 << -t) + "×";
    s << "<text x=\"" << x << "\" y=\"" << plot_bottom + 14 << "\" text-anchor=\"middle\">" << tick
      << "</text>\n";
  }
  s << "<text x=\"" << label_w + plot_w / 2 << "\" y=\"" << plot_bottom + 30
    << "\" text-anchor=\"middle\" fill=\"#444\">time ours / peer (log scale): left of 1× ours is "
       "faster</text>\n";
  // Rows.
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const double y = top + row_h * static_cast<double>(i);
    if (row.header) {
      s << "<text x=\"10\" y=\"" << y + 11 << "\" font-weight=\"bold\">" << xml_escape(row.label)
        << "</text>\n";
      continue;
    }
    if (i % 2 == 0)
      s << "<rect x=\"" << label_w - 4 << "\" y=\"" << y << "\" width=\"" << plot_w + 8
        << "\" height=\"" << row_h << "\" fill=\"#f4f4f4\"/>\n";
    s << "<text x=\"" << label_w - 8 << "\" y=\"" << y + 11 << "\" text-anchor=\"end\" fill=\""
      << (row.missed ? "#b00" : "#222") << "\">" << xml_escape(row.label) << "</text>\n";
    for (const auto& [p, l] : row.points) {
      s << "<circle cx=\"" << x_of(l) << "\" cy=\"" << y + row_h / 2 << "\" r=\"4\" fill=\""
        << kPeerColours[p] << "\" fill-opacity=\"0.85\"><title>" << kPeers[p] << ": "
        << fmt_ratio(std::exp2(l)) << "</title></circle>\n";
    }
  }
  s << "</svg>\n";
  return s.str();
}

}  // namespace

// What each debug and hardening option costs (issues 5 and 11): a dedicated
// cache's alloc+free pairs, and batches of 1024 made on fresh slabs, with
// each option, and the ratio to the plain cache of the same size.
namespace {
std::string option_cost_table(const Index& idx, const std::string& unit, const std::string& prefix,
                              const char* heading, const char* what) {
  static const char* const kVariants[] = {"plain", "slab-debug", "init-on-alloc", "init-on-free",
                                          "freelist-random"};
  std::ostringstream md;
  bool any = false;
  for (const std::string& c : idx.cases) {
    if (c.rfind(prefix, 0) != 0) continue;
    const Result* plain = idx.find(c, "plain");
    if (!any) {
      md << "\n### " << heading << "\n\n"
         << (unit == "ns" ? "Time" : "Instructions") << " per object " << what
         << ", and the ratio to the plain cache. SLAB_DEBUG adds redzones, poisoning, per-object "
            "state and bypasses the per-CPU arrays; init-on-alloc/free zero each object; "
            "SLAB_FREELIST_RANDOM shuffles each new slab's freelist.\n\n"
            "| object size | plain | SLAB_DEBUG | init_on_alloc | init_on_free | SLAB_FREELIST_RANDOM |\n"
            "|---|---:|---:|---:|---:|---:|\n";
      any = true;
    }
    md << "| " << c.substr(prefix.size()) << " B";
    for (const char* v : kVariants) {
      const Result* r = idx.find(c, v);
      md << " | ";
      if (r == nullptr) {
        md << "–";
        continue;
      }
      md << fmt_value(r->per_op, unit);
      if (plain != nullptr && r != plain && plain->per_op > 0)
        md << " (" << fmt_ratio(r->per_op / plain->per_op) << ")";
    }
    md << " |\n";
  }
  return md.str();
}
}  // namespace

std::string debug_cost_table(const Index& idx, const std::string& unit) {
  return option_cost_table(idx, unit, "debugcost.", "What the debug options cost (issues 5, 11)",
                           "in an alloc+free pair of a dedicated kmem_cache (warm slabs)") +
         option_cost_table(idx, unit, "debugcost-batch.", "The same options on fresh slabs",
                           "in a batch of 1024 allocated then freed, its empty slabs shrunk after "
                           "each batch so every batch makes new slabs (the shrink is in the time)");
}

int write_report(const std::vector<Result>& results, const std::vector<std::string>& errors,
                 const ReportOptions& options) {
  // Interleaved repetitions finish in random order; tables follow registration.
  std::vector<Result> sorted = results;
  std::stable_sort(sorted.begin(), sorted.end(),
                   [](const Result& a, const Result& b) { return a.order < b.order; });
  const Index idx(sorted);
  std::ostringstream md;
  md << "## " << options.title << "\n\n" << options.machine_note << "\n";
  for (const Section& sec : sections()) {
    md << section_table(idx, sec, options.unit);
    if (std::string(sec.prefix) == "pages.mixed") md << high_order_table(idx);
  }
  md << debug_cost_table(idx, options.unit);

  int property_failures = static_cast<int>(errors.size());
  std::set<std::string> missed_rows;
  std::ostringstream targets;
  if (options.check_targets) {
    const std::vector<Verdict> verdicts = check_targets(idx, options.unit);
    size_t met = 0;
    for (const Verdict& v : verdicts) {
      met += v.met ? 1 : 0;
      if (!v.met && v.property) ++property_failures;
      if (!v.met && !v.row.empty()) missed_rows.insert(v.row);
    }
    targets << "\n### Targets (issues 6 and 9)\n\n" << met << " met, " << verdicts.size() - met
            << " missed. \"At\" a peer means within " << fmt("%.0f", (kAtTolerance - 1) * 100)
            << "% of it.\n\n```\n";
    for (const Verdict& v : verdicts)
      if (!v.met) targets << "MISSED " << v.text << "\n";
    for (const Verdict& v : verdicts)
      if (v.met) targets << "met    " << v.text << "\n";
    targets << "```\n";
  }
  md << targets.str();
  if (!errors.empty()) {
    md << "\n### Benchmarks that did not run\n\n```\n";
    for (const std::string& e : errors) md << "ERROR " << e << "\n";
    md << "```\n";
  }

  std::fputs("\n", stdout);
  std::fputs(md.str().c_str(), stdout);
  std::fflush(stdout);
  if (!options.dir.empty()) {
    std::ofstream(options.dir + "/results.md") << md.str();
    std::ofstream(options.dir + "/results.svg")
        << svg_chart(idx, missed_rows, options.title, options.chart_note);
    std::printf("\nwrote %s/results.md and %s/results.svg\n", options.dir.c_str(),
                options.dir.c_str());
  }
  return property_failures;
}

}  // namespace pf::bench
