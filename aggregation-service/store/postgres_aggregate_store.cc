// PostgresAggregateStore: claims and checkpoints as PostgreSQL transactions (see the header).
#include "aggregation-service/store/postgres_aggregate_store.h"

#include <libpq-fe.h>

#include <algorithm>
#include <numeric>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "aggregation-service/store/aggregate_rows.h"
#include "aggregation-service/store/store_rules.h"
#include "lib/common/log.h"
#include "lib/common/status_macros.h"
#include "lib/pg/binary.h"

namespace streammetrics::aggregation {
namespace {

// Windows per upsert statement: big enough that a checkpoint of tens of thousands of windows is
// a handful of statements, small enough to bound one statement's arrays (about 1 MB per 5,000
// windows with 100-byte sketches).
constexpr int kWindowsPerStatement = 5000;

// Prepared statement names.
constexpr char kClaim[] = "sm_claim";
constexpr char kClaimWindows[] = "sm_claim_windows";
constexpr char kClaimDedup[] = "sm_claim_dedup";
constexpr char kClaimOutbox[] = "sm_claim_outbox";
constexpr char kFence[] = "sm_fence";
constexpr char kUpsertWindows[] = "sm_upsert_windows";
constexpr char kUpsertSeries[] = "sm_upsert_series";
constexpr char kInsertDedup[] = "sm_insert_dedup";
constexpr char kReleaseDedup[] = "sm_release_dedup";
constexpr char kInsertOutbox[] = "sm_insert_outbox";
constexpr char kDeleteOutbox[] = "sm_delete_outbox";

std::vector<pg::StatementSpec> Statements() {
  return {
      // Creates the progress row at epoch 1, or increments the epoch: either way every earlier
      // owner's epoch is now stale. The row lock it takes (until COMMIT) waits for a checkpoint
      // of the partition in flight, so the reads below see it committed or fenced.
      {kClaim,
       "INSERT INTO metrics.consumer_offsets AS o (consumer_group, topic, partition, owner_epoch) "
       "VALUES ($1, $2, $3, 1) ON CONFLICT (consumer_group, topic, partition) DO UPDATE SET "
       "owner_epoch = o.owner_epoch + 1, updated_at = now() "
       "RETURNING owner_epoch, next_offset, watermark",
       {pg::kTextOid, pg::kTextOid, pg::kInt4Oid}},
      SelectClaimedWindowsStatement(kClaimWindows),
      // Every chunk not yet released: released ones are deleted by the checkpoint that released
      // them, which is what PartitionSnapshot asks for.
      {kClaimDedup,
       "SELECT window_start, keys FROM metrics.dedup_keys WHERE consumer_group = $1 AND "
       "partition = $2 ORDER BY window_start, id",
       {pg::kTextOid, pg::kInt4Oid}},
      {kClaimOutbox,
       "SELECT id, topic, key, value FROM metrics.outbox WHERE consumer_group = $1 AND "
       "partition = $2 ORDER BY id",
       {pg::kTextOid, pg::kInt4Oid}},
      // The fencing compare-and-set, first in every checkpoint: 0 rows means another instance
      // claimed the partition since (or it was never claimed).
      {kFence,
       "UPDATE metrics.consumer_offsets SET next_offset = $4, watermark = $5, updated_at = now() "
       "WHERE consumer_group = $1 AND topic = $2 AND partition = $3 AND owner_epoch = $6",
       {pg::kTextOid, pg::kTextOid, pg::kInt4Oid, pg::kInt8Oid, pg::kTimestamptzOid, pg::kInt8Oid}},
      UpsertWindowsStatement(kUpsertWindows),
      UpsertSeriesStatement(kUpsertSeries),
      {kInsertDedup,
       "INSERT INTO metrics.dedup_keys (consumer_group, partition, window_start, keys) "
       "VALUES ($1, $2, $3, $4)",
       {pg::kTextOid, pg::kInt4Oid, pg::kTimestamptzOid, pg::kByteaOid}},
      {kReleaseDedup,
       "DELETE FROM metrics.dedup_keys WHERE consumer_group = $1 AND partition = $2 AND "
       "window_start < $3",
       {pg::kTextOid, pg::kInt4Oid, pg::kTimestamptzOid}},
      // Every outbox record of a partition in one statement; their ids come back in input order.
      // The ids are drawn in the CTE (materialized: it is read twice), so each row's id is known
      // next to its position, which a plain INSERT ... RETURNING does not promise.
      {kInsertOutbox,
       "WITH r AS (SELECT nextval('metrics.outbox_id_seq') AS id, topic, key, value, ord "
       "FROM unnest($3::text[], $4::bytea[], $5::bytea[]) WITH ORDINALITY "
       "AS u(topic, key, value, ord)), "
       "i AS (INSERT INTO metrics.outbox (id, consumer_group, partition, topic, key, value) "
       "SELECT id, $1, $2, topic, key, value FROM r) "
       "SELECT id FROM r ORDER BY ord",
       {pg::kTextOid, pg::kInt4Oid, pg::kTextArrayOid, pg::kByteaArrayOid, pg::kByteaArrayOid}},
      // Scoped to the group and partition, so a wrong id can never delete another's record.
      {kDeleteOutbox,
       "DELETE FROM metrics.outbox WHERE consumer_group = $1 AND partition = $2 AND "
       "id = ANY($3)",
       {pg::kTextOid, pg::kInt4Oid, pg::kInt8ArrayOid}},
  };
}

pg::Statement Prepared(const char* name, pg::Params params) {
  return pg::Statement{.prepared = name, .sql = "", .params = std::move(params)};
}

pg::Statement Sql(const char* sql) {
  return pg::Statement{.prepared = "", .sql = sql, .params = {}};
}

// The ids as an int8[] literal, "{1,2,3}".
std::string Int8Array(const std::vector<int64_t>& ids) {
  return absl::StrCat("{", absl::StrJoin(ids, ","), "}");
}

absl::Status InvalidConfig(absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("PostgresStoreConfig: ", why));
}

}  // namespace

PostgresAggregateStore::PostgresAggregateStore(PostgresStoreConfig config)
    : config_(std::move(config)) {}

absl::StatusOr<std::unique_ptr<PostgresAggregateStore>> PostgresAggregateStore::Create(
    PostgresStoreConfig config) {
  if (absl::Status s = pg::CheckConninfo(config.conninfo); !s.ok())
    return InvalidConfig(s.message());
  if (config.consumer_group.empty()) return InvalidConfig("consumer_group is empty");
  if (config.topic.empty()) return InvalidConfig("topic is empty");
  if (config.statement_timeout <= absl::ZeroDuration()) {
    return InvalidConfig("statement_timeout must be positive");
  }
  if (config.connect_timeout <= absl::ZeroDuration()) {
    return InvalidConfig("connect_timeout must be positive");
  }
  std::unique_ptr<PostgresAggregateStore> store(new PostgresAggregateStore(std::move(config)));
  RETURN_IF_ERROR(store->Connection().status());
  return store;
}

absl::StatusOr<pg::Connection*> PostgresAggregateStore::Connection() {
  if (conn_ != nullptr && conn_->Usable()) return conn_.get();
  conn_.reset();
  pg::ConnectOptions options{
      .conninfo = config_.conninfo,
      .connect_timeout = config_.connect_timeout,
      .statement_timeout = config_.statement_timeout,
      .application_name = absl::StrCat("streammetrics-aggregation/", config_.consumer_group),
  };
  absl::StatusOr<std::unique_ptr<pg::Connection>> opened =
      pg::Connection::Open(options, Statements());
  if (!opened.ok()) {
    SM_LOG(Warn, "postgres_connect_failed").Kv("error", opened.status().ToString());
    return opened.status();
  }
  SM_LOG(Info, "postgres_connected").Kv("reconnect", connected_before_);
  connected_before_ = true;
  conn_ = *std::move(opened);
  return conn_.get();
}

void PostgresAggregateStore::Abandon() {
  if (conn_ != nullptr && !conn_->Rollback()) conn_.reset();
}

absl::StatusOr<PartitionClaim> PostgresAggregateStore::ClaimPartition(int32_t partition) {
  if (partition < 0) {
    return absl::InvalidArgumentError(absl::StrCat("partition ", partition, " is negative"));
  }
  ASSIGN_OR_RETURN(pg::Connection * conn, Connection());
  absl::StatusOr<PartitionClaim> claim = ReadClaim(*conn, partition);
  if (!claim.ok()) Abandon();
  return claim;
}

absl::StatusOr<PartitionClaim> PostgresAggregateStore::ReadClaim(pg::Connection& conn,
                                                                 int32_t partition) {
  const std::string context = absl::StrCat("claim of partition ", partition);
  pg::Error error;
  std::vector<pg::Statement> bump;
  bump.push_back(Sql("BEGIN"));
  bump.push_back(Prepared(
      kClaim, pg::Params().Bytes(config_.consumer_group).Bytes(config_.topic).Int32(partition)));
  ASSIGN_OR_RETURN(std::vector<pg::Result> bumped, conn.RunPipeline(bump, context, &error));
  if (PQntuples(bumped[1].get()) != 1) {
    return absl::InternalError(absl::StrCat(context, ": the claim returned ",
                                            PQntuples(bumped[1].get()), " rows, expected 1"));
  }
  PartitionClaim claim;
  const pg::Row progress(bumped[1].get(), 0);
  ASSIGN_OR_RETURN(claim.owner_epoch, progress.Int64(0));
  ASSIGN_OR_RETURN(claim.next_offset, progress.NullableInt64(1));
  ASSIGN_OR_RETURN(std::optional<absl::Time> watermark, progress.NullableTimestamp(2));
  claim.snapshot.watermark = watermark.value_or(absl::InfinitePast());

  std::vector<pg::Statement> reads;
  reads.push_back(
      Prepared(kClaimWindows, pg::Params()
                                  .Int32(partition)
                                  .Timestamp(ClaimFinalWindowsFrom(claim.snapshot.watermark))
                                  .Bytes(config_.consumer_group)));
  reads.push_back(
      Prepared(kClaimDedup, pg::Params().Bytes(config_.consumer_group).Int32(partition)));
  reads.push_back(
      Prepared(kClaimOutbox, pg::Params().Bytes(config_.consumer_group).Int32(partition)));
  ASSIGN_OR_RETURN(std::vector<pg::Result> read, conn.RunPipeline(reads, context, &error));

  // Parsed before COMMIT: stored state that does not parse leaves the epoch as it was.
  const PGresult* windows = read[0].get();
  claim.snapshot.windows.reserve(PQntuples(windows));
  for (int i = 0; i < PQntuples(windows); ++i) {
    ASSIGN_OR_RETURN(v1::WindowAggregate window, WindowFromRow(pg::Row(windows, i)));
    claim.snapshot.windows.push_back(std::move(window));
  }
  const PGresult* dedup = read[1].get();
  for (int i = 0; i < PQntuples(dedup); ++i) {
    const pg::Row row(dedup, i);
    DedupChunk chunk;
    ASSIGN_OR_RETURN(chunk.window_start, row.Timestamp(0));
    ASSIGN_OR_RETURN(chunk.keys, row.Bytes(1));
    claim.snapshot.dedup.push_back(std::move(chunk));
  }
  const PGresult* outbox = read[2].get();
  for (int i = 0; i < PQntuples(outbox); ++i) {
    const pg::Row row(outbox, i);
    OutboxRecord record;
    ASSIGN_OR_RETURN(record.id, row.Int64(0));
    ASSIGN_OR_RETURN(record.topic, row.Bytes(1));
    ASSIGN_OR_RETURN(record.key, row.Bytes(2));
    ASSIGN_OR_RETURN(record.value, row.Bytes(3));
    claim.outbox.push_back(std::move(record));
  }
  RETURN_IF_ERROR(conn.RunPipeline({Sql("COMMIT")}, context, &error).status());
  return claim;
}

absl::StatusOr<CheckpointResult> PostgresAggregateStore::Checkpoint(
    const std::vector<PartitionCheckpoint>& checkpoints) {
  if (checkpoints.empty()) return CheckpointResult{};
  RETURN_IF_ERROR(ValidateCheckpoints(checkpoints));
  ASSIGN_OR_RETURN(pg::Connection * conn, Connection());
  absl::StatusOr<CheckpointResult> result = WriteCheckpoint(*conn, checkpoints);
  // A fenced checkpoint returns with its transaction open: roll it back like a failed one.
  if (!result.ok() || !result->fenced.empty()) Abandon();
  return result;
}

absl::StatusOr<CheckpointResult> PostgresAggregateStore::WriteCheckpoint(
    pg::Connection& conn, const std::vector<PartitionCheckpoint>& checkpoints) {
  const std::string& group = config_.consumer_group;
  pg::Error error;

  // Round trip 1: BEGIN and every fence, in partition order (see the header).
  std::vector<size_t> order(checkpoints.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&checkpoints](size_t a, size_t b) {
    return checkpoints[a].partition < checkpoints[b].partition;
  });
  std::vector<pg::Statement> fences;
  fences.push_back(Sql("BEGIN"));
  for (size_t i : order) {
    const PartitionCheckpoint& cp = checkpoints[i];
    pg::Params params;
    params.Bytes(group).Bytes(config_.topic).Int32(cp.partition).Int64(cp.next_offset);
    if (cp.delta.watermark == absl::InfinitePast()) {
      params.Null();
    } else {
      params.Timestamp(cp.delta.watermark);
    }
    params.Int64(cp.owner_epoch);
    fences.push_back(Prepared(kFence, std::move(params)));
  }
  ASSIGN_OR_RETURN(std::vector<pg::Result> fenced,
                   conn.RunPipeline(fences, "checkpoint fencing", &error));
  std::vector<bool> is_fenced(checkpoints.size(), false);
  for (size_t k = 0; k < order.size(); ++k) {
    is_fenced[order[k]] = std::string(PQcmdTuples(fenced[k + 1].get())) != "1";
  }
  CheckpointResult result;
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    if (is_fenced[i]) result.fenced.push_back(checkpoints[i].partition);
  }
  if (!result.fenced.empty()) return result;

  // Round trip 2: every write, then COMMIT. The windows behind each statement, to name the one
  // the database refuses.
  std::vector<pg::Statement> writes;
  std::vector<std::vector<const v1::WindowAggregate*>> windows_of;
  // The statement inserting each partition's outbox records, if any.
  std::vector<std::optional<size_t>> outbox_statement(checkpoints.size());
  auto add = [&writes, &windows_of](pg::Statement s,
                                    std::vector<const v1::WindowAggregate*> windows = {}) {
    writes.push_back(std::move(s));
    windows_of.push_back(std::move(windows));
  };
  // Windows go kWindowsPerStatement to a statement, whatever their partition.
  WindowRows rows(group);
  std::vector<const v1::WindowAggregate*> in_rows;
  auto add_rows = [&] {
    if (rows.size() == 0) return;
    add(Prepared(kUpsertWindows, rows.Params()), std::move(in_rows));
    rows = WindowRows(group);
    in_rows.clear();
  };
  SeriesRows series;
  std::vector<const v1::WindowAggregate*> in_series;
  for (const PartitionCheckpoint& cp : checkpoints) {
    for (const v1::WindowAggregate& w : cp.delta.windows) {
      RETURN_IF_ERROR(rows.Add(w, cp.partition));
      in_rows.push_back(&w);
      if (rows.size() >= kWindowsPerStatement) add_rows();
      // A series' catalog row changes only when it gets a new 1-minute window: revision 1 is
      // that window's first write (a repeat after an ambiguous commit is harmless).
      if (w.window_size() == v1::WINDOW_SIZE_1M && w.revision() == 1) {
        RETURN_IF_ERROR(series.Add(w));
        in_series.push_back(&w);
      }
    }
  }
  add_rows();
  if (series.size() > 0) add(Prepared(kUpsertSeries, series.Params()), std::move(in_series));
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    const PartitionCheckpoint& cp = checkpoints[i];
    for (const DedupChunk& chunk : cp.delta.dedup_added) {
      add(Prepared(kInsertDedup, pg::Params()
                                     .Bytes(group)
                                     .Int32(cp.partition)
                                     .Timestamp(chunk.window_start)
                                     .Bytes(chunk.keys)));
    }
    if (cp.delta.dedup_release_before != absl::InfinitePast()) {
      add(Prepared(
          kReleaseDedup,
          pg::Params().Bytes(group).Int32(cp.partition).Timestamp(cp.delta.dedup_release_before)));
    }
    if (!cp.outbox_add.empty()) {
      pg::Array topics(pg::kTextOid), keys(pg::kByteaOid), values(pg::kByteaOid);
      for (const OutboxRecord& record : cp.outbox_add) {
        topics.Bytes(record.topic);
        keys.Bytes(record.key);
        values.Bytes(record.value);
      }
      outbox_statement[i] = writes.size();
      add(Prepared(
          kInsertOutbox,
          pg::Params().Bytes(group).Int32(cp.partition).Array(topics).Array(keys).Array(values)));
    }
    if (!cp.outbox_delivered.empty()) {
      add(Prepared(
          kDeleteOutbox,
          pg::Params().Bytes(group).Int32(cp.partition).Text(Int8Array(cp.outbox_delivered))));
    }
  }
  add(Sql("COMMIT"));
  absl::StatusOr<std::vector<pg::Result>> written = conn.RunPipeline(writes, "checkpoint", &error);
  if (!written.ok()) {
    const std::vector<const v1::WindowAggregate*> none;
    const std::vector<const v1::WindowAggregate*>& windows =
        error.statement.has_value() ? windows_of[*error.statement] : none;
    if (windows.empty() || !absl::IsInvalidArgument(written.status())) return written.status();
    // PostgreSQL's "value too long for type character varying(100)" says neither which column
    // nor which row: the widths check finds the window.
    if (error.sqlstate == "22001") {
      for (const v1::WindowAggregate* w : windows) RETURN_IF_ERROR(CheckColumnWidths(*w));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(windows.size() == 1 ? "window " : "one of the windows from ",
                     DescribeWindow(*windows.front()), ": ", written.status().message()));
  }
  result.outbox_ids.resize(checkpoints.size());
  for (size_t i = 0; i < checkpoints.size(); ++i) {
    if (!outbox_statement[i].has_value()) continue;
    const PGresult* ids = (*written)[*outbox_statement[i]].get();
    if (static_cast<size_t>(PQntuples(ids)) != checkpoints[i].outbox_add.size()) {
      return absl::InternalError(absl::StrCat("checkpoint: ", PQntuples(ids), " outbox ids for ",
                                              checkpoints[i].outbox_add.size(), " records"));
    }
    for (int row = 0; row < PQntuples(ids); ++row) {
      ASSIGN_OR_RETURN(int64_t id, pg::Row(ids, row).Int64(0));
      result.outbox_ids[i].push_back(id);
    }
  }
  return result;
}

}  // namespace streammetrics::aggregation
