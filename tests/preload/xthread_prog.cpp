// xthread_prog.cpp — the project's own cross-thread program for the preload
// tests and bench-real (built with plain g++, run with and without LD_PRELOAD).
//
// Eight threads in a ring: thread i allocates messages and pushes them to the
// bounded queue of thread (i+1) % 8, which checks and frees them, so nearly
// every object is freed by a thread other than the one that allocated it.
// Message sizes mix small objects, page-sized blocks and multi-MiB buffers;
// each thread also churns std::string / std::vector / std::map on its own.
// Each byte of a message is a function of (sender, sequence number, offset),
// checked by the receiver; the summary line is sums over all threads, so it
// is the same on every run and every allocator. Exit 1 on any mismatch.
//
// Usage: xthread_prog MESSAGES_PER_THREAD
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace {

constexpr int kThreads = 8;
constexpr size_t kQueueCap = 64;

struct Message {
    int sender;
    uint64_t seq;
    size_t size;
    unsigned char* bytes;  // malloc'd by the sender, freed by the receiver
};

// A bounded queue: one per thread, many producers (in the ring, one), one consumer.
class Queue {
public:
    // No blocking push: a ring of blocking pushes deadlocks when every queue
    // is full. The sender drains its own queue while its target is full.
    bool try_push(const Message& m) {
        std::lock_guard<std::mutex> lk(mu_);
        if (q_.size() >= kQueueCap) return false;
        q_.push_back(m);
        not_empty_.notify_one();
        return true;
    }
    bool try_pop(Message* m) {
        std::lock_guard<std::mutex> lk(mu_);
        if (q_.empty()) return false;
        *m = q_.front();
        q_.pop_front();
        return true;
    }
    Message pop() {
        std::unique_lock<std::mutex> lk(mu_);
        not_empty_.wait(lk, [&] { return !q_.empty(); });
        Message m = q_.front();
        q_.pop_front();
        return m;
    }

private:
    std::mutex mu_;
    std::condition_variable not_empty_;
    std::deque<Message> q_;
};

uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    return x;
}

unsigned char byte_at(int sender, uint64_t seq, size_t off) {
    return static_cast<unsigned char>(mix((uint64_t(sender) << 56) ^ (seq << 20) ^ (off >> 6)) + off);
}

// Sizes: mostly small, some around a page, a few multi-MiB.
size_t size_for(uint64_t r) {
    uint64_t k = r % 1000;
    if (k < 800) return 1 + (r >> 10) % 512;
    if (k < 960) return 2048 + (r >> 10) % 8192;            // page-sized
    if (k < 995) return 16384 + (r >> 10) % (256 * 1024);
    return (1u << 20) + (r >> 10) % (3u << 20);             // 1..4 MiB
}

struct Result {
    uint64_t received = 0, bytes = 0, checksum = 0, churn = 0;
    bool ok = true;
};

Queue queues[kThreads];

void receive(const Message& m, Result* res) {
    size_t step = m.size > 65536 ? 64 : 1;
    for (size_t o = 0; o < m.size; o += step)
        if (m.bytes[o] != byte_at(m.sender, m.seq, o)) res->ok = false;
    if (m.bytes[m.size - 1] != byte_at(m.sender, m.seq, m.size - 1)) res->ok = false;
    res->checksum += mix(m.seq ^ m.size ^ (uint64_t(m.sender) << 40));
    res->bytes += m.size;
    std::free(m.bytes);
    ++res->received;
}

void run(int id, uint64_t messages, Result* res) {
    Queue& out = queues[(id + 1) % kThreads];
    Queue& in = queues[id];
    std::map<std::string, std::vector<int>> local;
    Message m;
    for (uint64_t sent = 0; sent < messages; ++sent) {
        uint64_t r = mix(uint64_t(id) * 1000003 + sent);
        size_t n = size_for(r);
        auto* p = static_cast<unsigned char*>(std::malloc(n));
        if (!p) { std::fprintf(stderr, "xthread: malloc(%zu) failed\n", n); std::exit(1); }
        // Big buffers are filled sparsely (every 64th byte and the last) to keep it quick.
        size_t step = n > 65536 ? 64 : 1;
        for (size_t o = 0; o < n; o += step) p[o] = byte_at(id, sent, o);
        p[n - 1] = byte_at(id, sent, n - 1);
        while (!out.try_push(Message{id, sent, n, p})) {
            if (in.try_pop(&m)) receive(m, res);
            else std::this_thread::yield();
        }
        if (sent % 2 == 0 && in.try_pop(&m)) receive(m, res);
        // Own churn: strings and vectors in a map, some dropped again.
        std::string key = "k" + std::to_string(r % 4099);
        auto& v = local[key];
        v.resize(v.size() + 1 + r % 37, int(r & 0xff));
        if (v.size() > 600) { res->churn += v.size(); local.erase(key); }
    }
    // Each thread receives exactly as many messages as its sender sends.
    while (res->received < messages) receive(in.pop(), res);
    for (auto& [k, v] : local) res->churn += k.size() + v.size();
}

}  // namespace

int main(int argc, char** argv) {
    uint64_t messages = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 2000;
    std::vector<Result> results(kThreads);
    std::vector<std::thread> threads;
    for (int i = 0; i < kThreads; ++i) threads.emplace_back(run, i, messages, &results[i]);
    for (auto& t : threads) t.join();
    Result sum;
    for (auto& r : results) {
        sum.received += r.received;
        sum.bytes += r.bytes;
        sum.checksum += r.checksum;
        sum.churn += r.churn;
        sum.ok = sum.ok && r.ok;
    }
    std::printf("xthread: %d threads, %llu messages, %llu bytes, checksum %016llx, churn %llu, %s\n",
                kThreads, (unsigned long long)sum.received, (unsigned long long)sum.bytes,
                (unsigned long long)sum.checksum, (unsigned long long)sum.churn,
                sum.ok ? "contents intact" : "CONTENTS CORRUPTED");
    return sum.ok ? 0 : 1;
}
