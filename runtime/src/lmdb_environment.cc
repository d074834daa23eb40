#include "brook/runtime/state/lmdb_environment.h"

#include <lmdb.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <string>

namespace brook {
namespace {

MDB_val ToVal(std::span<const std::byte> bytes) {
  // LMDB takes non-const pointers but never writes through input keys and values.
  return MDB_val{bytes.size(), const_cast<std::byte*>(bytes.data())};
}

std::span<const std::byte> FromVal(const MDB_val& val) {
  return {static_cast<const std::byte*>(val.mv_data), val.mv_size};
}

std::runtime_error Error(int rc, const char* what, const std::string& directory) {
  return std::runtime_error(std::string("LMDB ") + what + " in " + directory + ": " +
                            mdb_strerror(rc));
}

// Failures that LMDB reports before touching the transaction.
bool LeavesTransactionUsable(int rc) { return rc == MDB_BAD_VALSIZE || rc == EINVAL; }

}  // namespace

// --- LmdbCursor --------------------------------------------------------------------------------

LmdbCursor::~LmdbCursor() { mdb_cursor_close(cursor_); }

bool LmdbCursor::Get(int op, Bytes key) {
  MDB_val k = ToVal(key);
  MDB_val v{0, nullptr};
  const int rc = mdb_cursor_get(cursor_, &k, &v, static_cast<MDB_cursor_op>(op));
  if (rc == MDB_NOTFOUND) {
    valid_ = false;
    return false;
  }
  if (rc != 0) {
    valid_ = false;
    if (writer_) writer_->Fail(rc, "cursor read");
    throw std::runtime_error(std::string("LMDB cursor read: ") + mdb_strerror(rc));
  }
  key_ = FromVal(k);
  value_ = FromVal(v);
  valid_ = true;
  return true;
}

bool LmdbCursor::SeekFirst() { return Get(MDB_FIRST, {}); }

bool LmdbCursor::Seek(Bytes key) {
  if (key.empty()) return SeekFirst();  // LMDB rejects empty keys
  return Get(MDB_SET_RANGE, key);
}

bool LmdbCursor::Next() { return Get(MDB_NEXT, {}); }

bool LmdbCursor::HasPrefix(Bytes prefix) const {
  return valid_ && key_.size() >= prefix.size() &&
         (prefix.empty() || std::memcmp(key_.data(), prefix.data(), prefix.size()) == 0);
}

void LmdbCursor::DeleteCurrent() {
  const int rc = mdb_cursor_del(cursor_, 0);
  if (rc != 0) writer_->Fail(rc, "cursor delete");
  ++writer_->pending_writes_;
}

// --- LmdbReadTransaction -----------------------------------------------------------------------

LmdbReadTransaction::LmdbReadTransaction(MDB_txn* txn, unsigned int dbi,
                                         const std::string& directory)
    : txn_(txn) {
  MDB_cursor* cursor = nullptr;
  if (const int rc = mdb_cursor_open(txn_, dbi, &cursor); rc != 0) {
    mdb_txn_abort(txn_);
    throw Error(rc, "open read cursor", directory);
  }
  cursor_.reset(new LmdbCursor(cursor, nullptr));
}

LmdbReadTransaction::~LmdbReadTransaction() {
  cursor_.reset();  // read-only cursors are closed explicitly
  mdb_txn_abort(txn_);
}

// --- LmdbEnvironment ---------------------------------------------------------------------------

LmdbEnvironment::LmdbEnvironment(const Options& options) : options_(options) {
  std::error_code ec;
  std::filesystem::create_directories(options_.directory, ec);
  if (ec) {
    throw std::runtime_error("LMDB: cannot create " + options_.directory + ": " + ec.message());
  }
  int rc = mdb_env_create(&env_);
  if (rc != 0) throw Error(rc, "create environment", options_.directory);
  const unsigned int flags = MDB_NOSYNC | MDB_NOMETASYNC | MDB_NOTLS | MDB_NORDAHEAD;
  MDB_txn* txn = nullptr;
  if ((rc = mdb_env_set_mapsize(env_, options_.map_size)) != 0 ||
      (rc = mdb_env_open(env_, options_.directory.c_str(), flags, 0644)) != 0 ||
      (rc = mdb_txn_begin(env_, nullptr, 0, &txn)) != 0) {
    mdb_env_close(env_);
    throw Error(rc, "open environment", options_.directory);
  }
  // The main database's handle stays valid after this transaction commits.
  if ((rc = mdb_dbi_open(txn, nullptr, 0, &dbi_)) != 0 || (rc = mdb_txn_commit(txn)) != 0) {
    mdb_env_close(env_);
    throw Error(rc, "open database", options_.directory);
  }
}

LmdbEnvironment::~LmdbEnvironment() {
  try {
    Commit();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "brook: %s\n", e.what());
  }
  mdb_env_close(env_);
}

MDB_txn* LmdbEnvironment::WriteTxn() {
  if (txn_ == nullptr) {
    if (const int rc = mdb_txn_begin(env_, nullptr, 0, &txn_); rc != 0) {
      txn_ = nullptr;
      throw Error(rc, "begin write transaction", options_.directory);
    }
  }
  return txn_;
}

void LmdbEnvironment::Fail(int rc, const char* what) {
  if (txn_ != nullptr && !LeavesTransactionUsable(rc)) {
    cursor_.reset();
    mdb_txn_abort(txn_);
    txn_ = nullptr;
    pending_writes_ = 0;
  }
  throw Error(rc, what, options_.directory);
}

std::optional<LmdbEnvironment::Bytes> LmdbEnvironment::Get(Bytes key) {
  MDB_val k = ToVal(key);
  MDB_val v{0, nullptr};
  const int rc = mdb_get(WriteTxn(), dbi_, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) Fail(rc, "get");
  return FromVal(v);
}

void LmdbEnvironment::Put(Bytes key, Bytes value) {
  MDB_val k = ToVal(key);
  MDB_val v = ToVal(value);
  if (const int rc = mdb_put(WriteTxn(), dbi_, &k, &v, 0); rc != 0) Fail(rc, "put");
  ++pending_writes_;
  MaybeCommit();
}

bool LmdbEnvironment::Delete(Bytes key) {
  MDB_val k = ToVal(key);
  const int rc = mdb_del(WriteTxn(), dbi_, &k, nullptr);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) Fail(rc, "delete");
  ++pending_writes_;
  MaybeCommit();
  return true;
}

LmdbCursor& LmdbEnvironment::WriteCursor() {
  if (!cursor_) {
    MDB_cursor* cursor = nullptr;
    if (const int rc = mdb_cursor_open(WriteTxn(), dbi_, &cursor); rc != 0) {
      Fail(rc, "open cursor");
    }
    cursor_.reset(new LmdbCursor(cursor, this));
  }
  return *cursor_;
}

void LmdbEnvironment::MaybeCommit() {
  if (pending_writes_ >= options_.commit_every) Commit();
}

void LmdbEnvironment::Commit() {
  if (txn_ == nullptr) return;
  // A write transaction's cursors must be closed before it ends (LMDB frees them otherwise).
  cursor_.reset();
  MDB_txn* txn = txn_;
  txn_ = nullptr;
  pending_writes_ = 0;
  if (const int rc = mdb_txn_commit(txn); rc != 0) throw Error(rc, "commit", options_.directory);
}

std::unique_ptr<LmdbReadTransaction> LmdbEnvironment::BeginRead() {
  Commit();
  MDB_txn* txn = nullptr;
  if (const int rc = mdb_txn_begin(env_, nullptr, MDB_RDONLY, &txn); rc != 0) {
    throw Error(rc, "begin read transaction", options_.directory);
  }
  return std::unique_ptr<LmdbReadTransaction>(new LmdbReadTransaction(txn, dbi_, directory()));
}

size_t LmdbEnvironment::max_key_size() const {
  return static_cast<size_t>(mdb_env_get_maxkeysize(env_));
}

}  // namespace brook
