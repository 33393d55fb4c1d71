// fastpath_disasm_test.cpp — issue 9's rule that a CPU allocating from and
// freeing to its own cache executes no atomic read-modify-write and no
// out-of-line call, checked on the machine code of this very binary.
//
// The fast paths are inlined into the C API entry points (capi.cpp): the seven
// symbols below. For each, with `nm -S` and `objdump -d` on /proc/self/exe:
//   1. the symbol exists and has a body (a missing or empty symbol fails,
//      never passes for want of code to look at);
//   2. its body (and a compiler-split `SYMBOL.cold` part, if any) holds no
//      locked instruction: no `lock` prefix, no `xchg` with a memory operand
//      (locked implicitly), no `cmpxchg*`. Slow paths that need locks or
//      atomics live in functions of their own, which the body only calls;
//   3. some path from the entry reaches a `ret` without a call or a jump out
//      of the body: the fast path is really there, inline. (Without this, a
//      body that only forwards to an out-of-line function that locks would
//      pass rules 1 and 2.)
// When rule 3 fails, the message names the functions called and the locked
// instructions in their bodies, which is where such a fast path then locks.
//
// The detector checks itself on probes compiled into the same binary (one
// function per kind of locked instruction, a plain leaf, a function that
// always calls out), on a symbol that does not exist, and on instruction
// lines written out by hand.
//
// Only the plain build is judged: ASan and TSan instrument memory accesses
// with calls, so in those flavours the test is skipped.
#include <cxxabi.h>
#include <unistd.h>
#include <gtest/gtest.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
constexpr bool kInstrumented = true;
#else
constexpr bool kInstrumented = false;
#endif

// ---- probes: known answers for the detector ------------------------------------
namespace {
std::atomic<long> g_probe_counter{0};
long g_probe_plain = 0;
}  // namespace

extern "C" {
[[gnu::noinline, gnu::used]] long pf_probe_fetch_add(void) { return g_probe_counter.fetch_add(1); }
[[gnu::noinline, gnu::used]] long pf_probe_exchange(long v) { return g_probe_counter.exchange(v); }
[[gnu::noinline, gnu::used]] bool pf_probe_cas(long expected) {
  return g_probe_counter.compare_exchange_strong(expected, expected + 1);
}
[[gnu::noinline, gnu::used]] long pf_probe_plain_leaf(long v) {
  g_probe_plain += v;
  return g_probe_plain;
}
// Always leaves through an out-of-line call, as main's C API did.
[[gnu::noinline, gnu::used]] long pf_probe_calls_out(long v) { return pf_probe_plain_leaf(v) + 1; }
}

namespace pf {
namespace {

std::string run(const std::string& cmd) {
  std::string out;
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(cmd.c_str(), "r"), pclose);
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p.get())) > 0) out.append(buf, n);
  return out;
}

std::string demangle(const std::string& name) {
  int status = 0;
  char* d = abi::__cxa_demangle(name.c_str(), nullptr, nullptr, &status);
  std::string s = status == 0 && d != nullptr ? std::string(d) : name;
  std::free(d);
  return s;
}

// One disassembled instruction, classified.
struct Insn {
  uint64_t addr = 0;
  std::string text;       // as objdump prints it
  std::string mnemonic;   // without prefixes
  bool locked = false;    // lock prefix, xchg with memory, cmpxchg*
  bool ret = false;
  bool call = false;
  bool jump = false;      // jmp or a conditional jump
  bool conditional = false;
  bool indirect = false;  // through a register or memory
  bool stops = false;     // ud2, hlt, int3: no successor
  uint64_t target = 0;    // direct branch or call target
  std::string target_name;
};

// Parses the text objdump prints after the address: "lock xadd %eax,(%rdx)".
Insn classify(uint64_t addr, const std::string& text) {
  Insn in;
  in.addr = addr;
  in.text = text;
  std::istringstream ss(text);
  std::string tok;
  std::set<std::string> prefixes;
  static const std::set<std::string> kPrefixes = {"lock", "rep", "repz", "repe", "repnz", "repne", "notrack",
                                                  "bnd", "data16", "cs", "ds", "es", "ss", "fs", "gs", "addr32"};
  while (ss >> tok && kPrefixes.count(tok)) prefixes.insert(tok);
  in.mnemonic = tok;
  std::string operands;
  std::getline(ss, operands);
  const size_t first = operands.find_first_not_of(" \t");
  operands = first == std::string::npos ? "" : operands.substr(first);
  const std::string& m = in.mnemonic;
  in.locked = prefixes.count("lock") || m.rfind("cmpxchg", 0) == 0 ||
              (m.rfind("xchg", 0) == 0 && operands.find('(') != std::string::npos);
  in.ret = m.rfind("ret", 0) == 0;
  in.call = m.rfind("call", 0) == 0;
  in.stops = m == "ud2" || m == "hlt" || m == "int3";
  in.jump = (m.size() > 1 && m[0] == 'j') || m.rfind("loop", 0) == 0;
  in.conditional = in.jump && m.rfind("jmp", 0) != 0;
  if (in.jump || in.call) {
    in.indirect = !operands.empty() && operands[0] == '*';
    if (!in.indirect) {
      in.target = std::strtoull(operands.c_str(), nullptr, 16);
      const size_t lt = operands.find('<'), gt = operands.rfind('>');
      if (lt != std::string::npos && gt != std::string::npos && gt > lt)
        in.target_name = operands.substr(lt + 1, gt - lt - 1);
    }
  }
  return in;
}

struct Symbol {
  uint64_t addr = 0, size = 0;
};

// The binary under test: this process's own executable.
class Binary {
 public:
  Binary() {
    char buf[4096];
    const ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
    if (n > 0) path_.assign(buf, static_cast<size_t>(n));
    std::istringstream nm(run("nm -S --defined-only '" + path_ + "' 2>/dev/null"));
    std::string line;
    while (std::getline(nm, line)) {
      std::istringstream ls(line);
      std::string addr, size, type, name;
      if (!(ls >> addr >> size >> type >> name)) continue;  // symbols without a size
      if (type != "T" && type != "t" && type != "W" && type != "w") continue;
      symbols_[name] = {std::strtoull(addr.c_str(), nullptr, 16), std::strtoull(size.c_str(), nullptr, 16)};
    }
  }
  const std::string& path() const { return path_; }
  size_t symbol_count() const { return symbols_.size(); }
  const Symbol* find(const std::string& name) const {
    auto it = symbols_.find(name);
    return it == symbols_.end() ? nullptr : &it->second;
  }
  // The instructions of [s.addr, s.addr + s.size), in address order.
  std::vector<Insn> disassemble(const Symbol& s) const {
    char range[96];
    std::snprintf(range, sizeof range, "--start-address=0x%llx --stop-address=0x%llx",
                  static_cast<unsigned long long>(s.addr), static_cast<unsigned long long>(s.addr + s.size));
    std::istringstream dis(run("objdump -d --no-show-raw-insn " + std::string(range) + " '" + path_ + "' 2>/dev/null"));
    std::vector<Insn> out;
    std::string line;
    while (std::getline(dis, line)) {
      // "   19c9e:\tcall   1f5b0 <...>"
      const size_t colon = line.find(":\t");
      if (colon == std::string::npos || line.empty() || line[0] != ' ') continue;
      char* end = nullptr;
      const uint64_t a = std::strtoull(line.c_str(), &end, 16);
      if (end == line.c_str()) continue;
      out.push_back(classify(a, line.substr(colon + 2)));
    }
    return out;
  }

 private:
  std::string path_;
  std::map<std::string, Symbol> symbols_;
};

const Binary& binary() {
  static const Binary b;
  return b;
}

// What the rules find in one symbol.
struct Verdict {
  bool found = false;
  size_t instructions = 0;
  std::vector<std::string> locked;  // "addr: text"
  bool inline_return = false;       // rule 3
  std::vector<std::string> leaves;  // calls and jumps out of the body, by name
  std::string why;                  // empty when every rule holds

  bool ok() const { return why.empty(); }
};

Verdict examine(const std::string& name, int describe_depth = 3) {
  Verdict v;
  const Binary& b = binary();
  const Symbol* sym = b.find(name);
  if (sym == nullptr || sym->size == 0) {
    v.why = name + ": no such function with a body in " + b.path();
    return v;
  }
  v.found = true;
  std::vector<Insn> body = b.disassemble(*sym);
  if (const Symbol* cold = b.find(name + ".cold")) {
    std::vector<Insn> more = b.disassemble(*cold);
    body.insert(body.end(), more.begin(), more.end());
  }
  v.instructions = body.size();
  if (body.empty()) {
    v.why = name + ": objdump printed no instructions";
    return v;
  }
  std::map<uint64_t, size_t> at;
  for (size_t i = 0; i < body.size(); ++i) at[body[i].addr] = i;
  for (const Insn& in : body) {
    char a[32];
    std::snprintf(a, sizeof a, "%llx: ", static_cast<unsigned long long>(in.addr));
    if (in.locked) v.locked.push_back(a + in.text);
  }
  // Rule 3: breadth-first from the entry, never through a call, never out.
  std::vector<bool> seen(body.size(), false);
  std::vector<size_t> todo{0};
  std::set<std::string> leaves;
  seen[0] = true;
  while (!todo.empty()) {
    const size_t i = todo.back();
    todo.pop_back();
    const Insn& in = body[i];
    std::vector<size_t> next;
    if (in.ret) {
      v.inline_return = true;
      continue;
    }
    if (in.stops) continue;
    if (in.call) {
      leaves.insert(in.indirect ? "(indirect call)" : in.target_name);
      continue;
    }
    if (in.jump) {
      if (in.indirect) {
        leaves.insert("(indirect jump)");
      } else if (auto t = at.find(in.target); t != at.end()) {
        next.push_back(t->second);
      } else {
        leaves.insert(in.target_name);
      }
      if (in.conditional && i + 1 < body.size()) next.push_back(i + 1);
    } else if (i + 1 < body.size()) {
      next.push_back(i + 1);
    }
    for (size_t n : next)
      if (!seen[n]) {
        seen[n] = true;
        todo.push_back(n);
      }
  }
  v.leaves.assign(leaves.begin(), leaves.end());

  std::ostringstream why;
  if (!v.locked.empty()) {
    why << name << ": locked instruction(s) in the body:";
    for (const std::string& l : v.locked) why << "\n    " << l;
  }
  if (!v.inline_return) {
    if (!v.locked.empty()) why << "\n";
    why << name << ": no path from the entry to a return without a call: the fast path is not inline";
    for (const std::string& l : v.leaves) {
      why << "\n    leaves through " << demangle(l.substr(0, l.find('+')));
    }
    // Where the work happens instead: functions it calls (a few levels down)
    // that hold locked instructions.
    std::set<std::string> visited{name};
    std::vector<std::pair<std::string, int>> callees;
    for (const std::string& l : v.leaves) callees.push_back({l.substr(0, l.find('+')), 1});
    for (size_t k = 0; describe_depth > 0 && k < callees.size() && k < 64; ++k) {
      const auto [callee_name, depth] = callees[k];
      if (callee_name.empty() || callee_name[0] == '(' || !visited.insert(callee_name).second) continue;
      const Verdict c = examine(callee_name, 0);
      for (const std::string& x : c.locked)
        why << "\n    " << std::string(size_t(depth) * 2, ' ') << demangle(callee_name) << " holds " << x;
      if (depth < describe_depth)
        for (const std::string& l : c.leaves) callees.push_back({l.substr(0, l.find('+')), depth + 1});
    }
  }
  v.why = why.str();
  return v;
}

class FastPathDisassembly : public ::testing::Test {
 protected:
  void SetUp() override {
    if (kInstrumented) GTEST_SKIP() << "sanitizer instrumentation adds calls; judged in the plain build";
    ASSERT_GT(binary().symbol_count(), 100u) << "nm found no symbols in " << binary().path();
  }
};

TEST_F(FastPathDisassembly, DetectorReadsInstructionLines) {
  EXPECT_TRUE(classify(0, "lock xadd %eax,(%rdx)").locked);
  EXPECT_TRUE(classify(0, "lock addq $0x1,0x10(%rdi)").locked);
  EXPECT_TRUE(classify(0, "lock cmpxchg %rdx,(%rdi)").locked);
  EXPECT_TRUE(classify(0, "cmpxchg16b (%rsi)").locked);
  EXPECT_TRUE(classify(0, "xchg   %al,(%rdi)").locked);
  EXPECT_TRUE(classify(0, "xchg   %rax,0x8(%rbx)").locked);
  EXPECT_FALSE(classify(0, "xchg   %ax,%ax").locked);
  EXPECT_FALSE(classify(0, "mov    (%rdi),%rax").locked);
  EXPECT_FALSE(classify(0, "cs nopw 0x0(%rax,%rax,1)").locked);
  const Insn j = classify(0, "jne    19e20 <kmalloc+0x10>");
  EXPECT_TRUE(j.jump && j.conditional && !j.indirect);
  EXPECT_EQ(j.target, 0x19e20u);
  EXPECT_EQ(j.target_name, "kmalloc+0x10");
  const Insn t = classify(0, "jmp    1a540 <_ZN2pf13SlabAllocator7kmallocEmjPKv>");
  EXPECT_TRUE(t.jump && !t.conditional);
  EXPECT_TRUE(classify(0, "notrack jmp *%rax").indirect);
  EXPECT_TRUE(classify(0, "call   *0x8(%rax)").call);
  EXPECT_TRUE(classify(0, "ret").ret);
  EXPECT_TRUE(classify(0, "repz ret").ret);
}

TEST_F(FastPathDisassembly, DetectorFlagsKnownLockedFunctions) {
  for (const char* probe : {"pf_probe_fetch_add", "pf_probe_exchange", "pf_probe_cas"}) {
    const Verdict v = examine(probe);
    EXPECT_TRUE(v.found) << v.why;
    EXPECT_FALSE(v.locked.empty()) << probe << " uses an atomic RMW, yet no locked instruction was seen";
    EXPECT_TRUE(v.inline_return) << v.why;
    EXPECT_FALSE(v.ok()) << probe;
  }
}

TEST_F(FastPathDisassembly, DetectorPassesAPlainLeafAndFailsAnOutOfLineOne) {
  const Verdict leaf = examine("pf_probe_plain_leaf");
  EXPECT_TRUE(leaf.ok()) << leaf.why;
  EXPECT_GT(leaf.instructions, 1u);
  const Verdict out = examine("pf_probe_calls_out");
  EXPECT_TRUE(out.found);
  EXPECT_TRUE(out.locked.empty());
  EXPECT_FALSE(out.inline_return) << "a function that always calls out has no inline path";
  EXPECT_FALSE(out.ok());
}

TEST_F(FastPathDisassembly, DetectorFailsAMissingSymbol) {
  const Verdict v = examine("pf_probe_that_does_not_exist");
  EXPECT_FALSE(v.found);
  EXPECT_FALSE(v.ok());
}

// The rule itself.
TEST_F(FastPathDisassembly, CApiFastPathsHaveNoLockedInstructionAndNoCall) {
  for (const char* sym : {"alloc_pages", "free_pages", "kmalloc", "kfree", "kfree_sized", "kmem_cache_alloc",
                          "kmem_cache_free"}) {
    const Verdict v = examine(sym);
    EXPECT_TRUE(v.ok()) << v.why;
    if (v.ok()) {
      std::printf("fast path %-17s %3zu instructions, no locked instruction; leaves only through:", sym,
                  v.instructions);
      for (const std::string& l : v.leaves) std::printf(" %s", demangle(l.substr(0, l.find('+'))).c_str());
      std::printf("\n");
    }
  }
}

}  // namespace
}  // namespace pf
