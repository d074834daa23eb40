// LmdbEnvironment: a small, non-template wrapper over one LMDB environment (its main database)
// that speaks byte spans, so lmdb.h stays out of every public header.
//
// Transactions: LMDB allows one write transaction at a time per environment. The environment
// keeps one open (begun on demand) and commits it every `commit_every` writes, on Commit() and
// on destruction: committing per write would cost a page flush and a meta update each time.
// Reads go through the same write transaction, so they see pending writes. BeginRead() commits
// and starts a read-only transaction: LMDB's MVCC makes it a consistent view that later writes
// do not change, which is what a snapshot needs.
//
// Durability: opened with MDB_NOSYNC | MDB_NOMETASYNC. The environment is a working copy of
// state that checkpoints save elsewhere, so a process crash loses nothing that matters and an OS
// crash may lose (or, on file systems that reorder writes, corrupt) the environment, which
// recovery then replaces from a checkpoint. Other flags: MDB_NOTLS, so a read transaction
// can live beside the write transaction on the same thread and be handed to another thread;
// MDB_NORDAHEAD, because state accesses are random and may exceed memory.
//
// Errors (map full, key too long, I/O) throw std::runtime_error with mdb_strerror's text. A
// failure that poisons the write transaction (map full, say) aborts it: its pending writes are
// lost, which the caller treats like a crash (restore from a checkpoint).
//
// Threading: one thread at a time for the environment and its write cursor; a read transaction
// (with its cursor) may be used by one other thread. Life cycle: read transactions must be
// destroyed before their environment. Opening the same directory twice in one process is not
// allowed (LMDB's rule).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

struct MDB_env;
struct MDB_txn;
struct MDB_cursor;

namespace brook {

class LmdbEnvironment;

// A cursor over the environment's write transaction or over a read transaction. Entries come in
// key order (bytewise). The key()/value() spans are valid until the cursor moves or the
// transaction writes or ends.
class LmdbCursor {
 public:
  using Bytes = std::span<const std::byte>;

  LmdbCursor(const LmdbCursor&) = delete;
  LmdbCursor& operator=(const LmdbCursor&) = delete;
  ~LmdbCursor();

  // Positions at the first entry, or at the first entry whose key is >= `key`.
  // Returns Valid().
  bool SeekFirst();
  bool Seek(Bytes key);
  bool Next();
  bool Valid() const { return valid_; }
  // REQUIRES: Valid().
  Bytes key() const { return key_; }
  Bytes value() const { return value_; }
  // True if Valid() and the key starts with `prefix`.
  bool HasPrefix(Bytes prefix) const;
  // Deletes the current entry; the next Next() moves to the entry that followed it.
  // REQUIRES: Valid() and a write-transaction cursor. Counts as a write (see MaybeCommit).
  void DeleteCurrent();

 private:
  friend class LmdbEnvironment;
  friend class LmdbReadTransaction;
  LmdbCursor(MDB_cursor* cursor, LmdbEnvironment* writer) : cursor_(cursor), writer_(writer) {}
  bool Get(int op, Bytes key);

  MDB_cursor* cursor_;
  LmdbEnvironment* writer_;  // null for read transactions
  bool valid_ = false;
  Bytes key_;
  Bytes value_;
};

// A read-only transaction: a consistent view of the environment as of BeginRead().
class LmdbReadTransaction {
 public:
  LmdbReadTransaction(const LmdbReadTransaction&) = delete;
  LmdbReadTransaction& operator=(const LmdbReadTransaction&) = delete;
  ~LmdbReadTransaction();

  // A cursor over this transaction, owned by it.
  LmdbCursor& cursor() { return *cursor_; }

 private:
  friend class LmdbEnvironment;
  LmdbReadTransaction(MDB_txn* txn, unsigned int dbi, const std::string& directory);

  MDB_txn* txn_;
  std::unique_ptr<LmdbCursor> cursor_;
};

class LmdbEnvironment {
 public:
  using Bytes = std::span<const std::byte>;

  struct Options {
    std::string directory;               // created if missing
    size_t map_size = size_t{64} << 30;  // address space reserved, not memory used
    size_t commit_every = 50'000;        // writes per automatic commit
  };

  // Opens (creating the directory and files if needed). Throws std::runtime_error.
  explicit LmdbEnvironment(const Options& options);
  // Commits pending writes (a failure is reported on stderr) and closes the environment.
  ~LmdbEnvironment();
  LmdbEnvironment(const LmdbEnvironment&) = delete;
  LmdbEnvironment& operator=(const LmdbEnvironment&) = delete;

  // The value of `key` as of the pending writes, or nullopt. Valid until the next write,
  // Commit() or cursor move.
  std::optional<Bytes> Get(Bytes key);
  // Put and Delete may commit (every commit_every writes), which ends WriteCursor()'s use.
  void Put(Bytes key, Bytes value);
  // Returns whether the key existed.
  bool Delete(Bytes key);

  // The cursor of the write transaction, opened on demand. REQUIRES: no Put, Delete or Commit
  // between positioning it and the last use of what it returned; call MaybeCommit() after a
  // scan that deleted through it.
  LmdbCursor& WriteCursor();
  void MaybeCommit();
  // Commits the open write transaction, if any.
  void Commit();

  // Commits pending writes, then begins a read-only transaction (a consistent snapshot).
  std::unique_ptr<LmdbReadTransaction> BeginRead();

  size_t max_key_size() const;
  const std::string& directory() const { return options_.directory; }

 private:
  friend class LmdbCursor;
  MDB_txn* WriteTxn();
  // Throws std::runtime_error for `rc`, aborting the write transaction first unless the
  // failure left it usable (a key or value of a bad size).
  [[noreturn]] void Fail(int rc, const char* what);

  const Options options_;
  MDB_env* env_ = nullptr;
  unsigned int dbi_ = 0;
  MDB_txn* txn_ = nullptr;
  std::unique_ptr<LmdbCursor> cursor_;  // on txn_
  size_t pending_writes_ = 0;
};

}  // namespace brook
