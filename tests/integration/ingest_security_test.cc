// The streammetrics-ingest binary's front door on the real stack: TLS served and plaintext
// refused, mutual TLS, bearer tokens and their scopes, a tokens file changed on disk, the refusal
// to listen beyond loopback unprotected, thousands of idle streams, one caller's rate limit, and
// the same rules on the OTLP port.
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "gmock/gmock.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "lib/client/metrics_client.h"
#include "lib/security/client_security.h"
#include "lib/security/token_file.h"
#include "opentelemetry/proto/collector/metrics/v1/metrics_service.grpc.pb.h"
#include "streammetrics/v1/ingest.grpc.pb.h"
#include "tests/ingest-service/otlp/otlp_test_requests.h"
#include "tests/ingest-service/test_events.h"
#include "tests/integration/ingest_child.h"
#include "tests/support/child_process.h"
#include "tests/support/kafka_topics.h"
#include "tests/support/stack.h"
#include "tests/support/test_pki.h"

namespace streammetrics::testing {
namespace {

using ::testing::HasSubstr;

constexpr char kWriterToken[] = "smt_writer-token-for-tests";
constexpr char kReaderToken[] = "smt_reader-token-for-tests";

class IngestSecurityTest : public ::testing::Test {
 protected:
  void SetUp() override {
    events_ = std::make_unique<ScopedTopic>("it-sec-events", 3);
    dead_ = std::make_unique<ScopedTopic>("it-sec-dead", 1);
    ASSERT_TRUE(events_->ok() && dead_->ok());
    absl::StatusOr<std::unique_ptr<TestPki>> pki = TestPki::Create("ingest-ca");
    ASSERT_TRUE(pki.ok()) << pki.status();
    pki_ = *std::move(pki);
    absl::StatusOr<CertFiles> server = pki_->Issue("localhost", "server");
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *server;
    tokens_file_ = pki_->dir() + "/tokens";
    WriteTokens(security::TokenFileLine(kWriterToken, "writer", 1) + "\n" +
                security::TokenFileLine(kReaderToken, "reader", 2) + "\n");
    tls_.tls_ca_file = pki_->ca_file();
  }

  void WriteTokens(const std::string& text) {
    std::ofstream(tokens_file_ + ".new", std::ios::trunc) << text;
    ASSERT_EQ(std::rename((tokens_file_ + ".new").c_str(), tokens_file_.c_str()), 0);
  }

  std::vector<std::string> TlsFlags() const {
    return {"--tls_cert_file=" + server_.cert, "--tls_key_file=" + server_.key};
  }

  void StartIngest(std::vector<std::string> flags,
                   const security::ClientSecurityConfig& health_client) {
    ingest_ = std::make_unique<IngestChild>(events_->name(), dead_->name(), std::move(flags),
                                            health_client);
    ASSERT_TRUE(ingest_->AwaitServing(absl::Seconds(60))) << "the ingest service did not start";
  }

  // One IngestStream call with `client`'s settings, one batch of `events` events; its status.
  grpc::Status SendOne(const security::ClientSecurityConfig& client, int events = 5,
                       const std::string& client_id = "security-client") {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        security::MakeChannel(ingest_->address(), client, args);
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no channel");
    auto stub = v1::IngestService::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    security::AddCallCredentials(client, &ctx);
    auto stream = stub->IngestStream(&ctx);
    stream->Write(ingest::testing::Batch(absl::Now(), ++sequence_, events, -1, client_id));
    v1::BatchAck ack;
    const bool acked = stream->Read(&ack);
    stream->WritesDone();
    grpc::Status status = stream->Finish();
    if (status.ok() && (!acked || ack.status() != v1::ACK_STATUS_DURABLE)) {
      return grpc::Status(grpc::StatusCode::INTERNAL, "no durable ack");
    }
    return status;
  }

  double Metric(const std::string& sample) const {
    return MetricValue(ScrapeMetrics(ingest_->metrics_address()), sample);
  }

  security::ClientSecurityConfig WithToken(const std::string& token) const {
    security::ClientSecurityConfig c = tls_;
    c.token = token;
    return c;
  }

  std::unique_ptr<ScopedTopic> events_;
  std::unique_ptr<ScopedTopic> dead_;
  std::unique_ptr<TestPki> pki_;
  CertFiles server_;
  std::string tokens_file_;
  security::ClientSecurityConfig tls_;
  std::unique_ptr<IngestChild> ingest_;
  uint64_t sequence_ = 0;
};

TEST_F(IngestSecurityTest, TlsWithTokensRefusesPlaintextAndTokensWithoutTheScope) {
  std::vector<std::string> flags = TlsFlags();
  flags.push_back("--auth_tokens_file=" + tokens_file_);
  flags.push_back("--auth_tokens_reload_interval=200ms");
  ASSERT_NO_FATAL_FAILURE(StartIngest(flags, tls_));  // health needs no token

  security::ClientSecurityConfig plaintext;
  plaintext.token = kWriterToken;
  EXPECT_EQ(SendOne(plaintext).error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::Status none = SendOne(tls_);
  EXPECT_EQ(none.error_code(), grpc::StatusCode::UNAUTHENTICATED) << none.error_message();
  EXPECT_EQ(SendOne(WithToken("smt_forged")).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  grpc::Status reader = SendOne(WithToken(kReaderToken));
  EXPECT_EQ(reader.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_THAT(reader.error_message(), HasSubstr("requires ingest"));
  grpc::Status writer = SendOne(WithToken(kWriterToken));
  EXPECT_TRUE(writer.ok()) << writer.error_message();

  EXPECT_EQ(Metric("streammetrics_auth_refused_total{reason=\"missing_token\"}"), 1);
  EXPECT_EQ(Metric("streammetrics_auth_refused_total{reason=\"unknown_token\"}"), 1);
  EXPECT_EQ(Metric("streammetrics_auth_refused_total{reason=\"wrong_scope\"}"), 1);
  EXPECT_EQ(Metric("streammetrics_ingest_caller_events_received_total{caller=\"writer\"}"), 5);

  // Every record names its caller.
  std::vector<ConsumedRecord> records = ConsumeAll(events_->name(), 5);
  ASSERT_EQ(records.size(), 5u);
  for (const ConsumedRecord& r : records) EXPECT_EQ(r.headers.at("streammetrics-caller"), "writer");
}

// The OTLP port is the same front door: TLS only, a token with the ingest scope, the caller on
// every record.
TEST_F(IngestSecurityTest, TheOtlpPortTakesTheSameTlsAndTokens) {
  std::vector<std::string> flags = TlsFlags();
  flags.push_back("--auth_tokens_file=" + tokens_file_);
  ASSERT_NO_FATAL_FAILURE(StartIngest(flags, tls_));
  auto export_with = [&](const security::ClientSecurityConfig& client) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    absl::StatusOr<std::shared_ptr<grpc::Channel>> channel =
        security::MakeChannel(ingest_->otlp_address(), client, args);
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no channel");
    ingest::otlp::testing::RequestBuilder b("checkout", "pod-1");
    b.Gauge("queue.depth", static_cast<uint64_t>(absl::ToUnixNanos(absl::Now())), 3);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
    security::AddCallCredentials(client, &ctx);
    opentelemetry::proto::collector::metrics::v1::ExportMetricsServiceResponse response;
    return opentelemetry::proto::collector::metrics::v1::MetricsService::NewStub(*channel)->Export(
        &ctx, b.request(), &response);
  };
  security::ClientSecurityConfig plaintext;
  plaintext.token = kWriterToken;
  EXPECT_EQ(export_with(plaintext).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(export_with(tls_).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(export_with(WithToken("smt_forged")).error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(export_with(WithToken(kReaderToken)).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  const grpc::Status writer = export_with(WithToken(kWriterToken));
  ASSERT_TRUE(writer.ok()) << writer.error_message();
  std::vector<ConsumedRecord> records = ConsumeAll(events_->name(), 1);
  ASSERT_EQ(records.size(), 1u);
  EXPECT_EQ(records[0].headers.at("streammetrics-caller"), "writer");
  EXPECT_EQ(Metric("streammetrics_ingest_otlp_exports_total{code=\"unauthenticated\"}"), 2);
}

TEST_F(IngestSecurityTest, ATokensFileChangedOnDiskTakesEffectWithoutARestart) {
  std::vector<std::string> flags = TlsFlags();
  flags.push_back("--auth_tokens_file=" + tokens_file_);
  flags.push_back("--auth_tokens_reload_interval=200ms");
  ASSERT_NO_FATAL_FAILURE(StartIngest(flags, tls_));
  ASSERT_TRUE(SendOne(WithToken(kWriterToken)).ok());

  // Rotation: the writer's old token is revoked, a new one issued under the same name.
  const std::string rotated = "smt_rotated-writer-token";
  WriteTokens(security::TokenFileLine(rotated, "writer", 1) + "\n");
  EXPECT_TRUE(PollUntil(absl::Seconds(30), [&] { return SendOne(WithToken(rotated)).ok(); }));
  EXPECT_EQ(SendOne(WithToken(kWriterToken)).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  // A broken file keeps the tokens in force and says so in /metrics.
  WriteTokens("not a tokens file\n");
  EXPECT_TRUE(PollUntil(absl::Seconds(30), [&] {
    SendOne(WithToken(rotated)).ok();
    return Metric("streammetrics_auth_tokens_file_failed_reloads") >= 1;
  }));
  EXPECT_TRUE(SendOne(WithToken(rotated)).ok());
}

TEST_F(IngestSecurityTest, ACertificateReplacedOnDiskIsServedWithoutARestart) {
  // The service reads copies the test replaces, as a renewal would.
  const std::string live = pki_->dir() + "/live";
  std::filesystem::create_directory(live);
  std::filesystem::copy_file(server_.cert, live + "/tls.crt");
  std::filesystem::copy_file(server_.key, live + "/tls.key");
  ASSERT_NO_FATAL_FAILURE(
      StartIngest({"--tls_cert_file=" + live + "/tls.crt", "--tls_key_file=" + live + "/tls.key",
                   "--tls_reload_interval=1s"},
                  tls_));
  ASSERT_TRUE(SendOne(tls_).ok());

  // A certificate from another CA: a client that trusts only that CA gets in once it is served.
  absl::StatusOr<std::unique_ptr<TestPki>> next_ca = TestPki::Create("ingest-ca-2");
  ASSERT_TRUE(next_ca.ok());
  absl::StatusOr<CertFiles> renewed = (*next_ca)->Issue("localhost", "server");
  ASSERT_TRUE(renewed.ok());
  security::ClientSecurityConfig next_client;
  next_client.tls_ca_file = (*next_ca)->ca_file();
  EXPECT_EQ(SendOne(next_client).error_code(), grpc::StatusCode::UNAVAILABLE);
  std::filesystem::copy_file(renewed->key, live + "/tls.key.new");
  std::filesystem::copy_file(renewed->cert, live + "/tls.crt.new");
  std::filesystem::rename(live + "/tls.key.new", live + "/tls.key");
  std::filesystem::rename(live + "/tls.crt.new", live + "/tls.crt");
  EXPECT_TRUE(PollUntil(absl::Seconds(30), [&] { return SendOne(next_client).ok(); }));
  EXPECT_EQ(SendOne(tls_).error_code(), grpc::StatusCode::UNAVAILABLE);
}

TEST_F(IngestSecurityTest, MutualTlsRefusesAClientWithoutACertificateAndNamesTheCaller) {
  std::vector<std::string> flags = TlsFlags();
  flags.push_back("--tls_client_ca_file=" + pki_->ca_file());
  absl::StatusOr<CertFiles> mine = pki_->Issue("checkout-fleet", "client");
  ASSERT_TRUE(mine.ok());
  security::ClientSecurityConfig with_cert = tls_;
  with_cert.tls_client_cert_file = mine->cert;
  with_cert.tls_client_key_file = mine->key;
  ASSERT_NO_FATAL_FAILURE(StartIngest(flags, with_cert));

  EXPECT_EQ(SendOne(tls_).error_code(), grpc::StatusCode::UNAVAILABLE);
  grpc::Status ok = SendOne(with_cert);
  ASSERT_TRUE(ok.ok()) << ok.error_message();
  // Without a tokens file, the certificate's name is the caller.
  std::vector<ConsumedRecord> records = ConsumeAll(events_->name(), 5);
  ASSERT_EQ(records.size(), 5u);
  EXPECT_EQ(records[0].headers.at("streammetrics-caller"), "checkout-fleet");
}

TEST_F(IngestSecurityTest, ListeningBeyondLoopbackWithoutTlsAndTokensFailsTheStart) {
  const std::vector<std::string> args = {STREAMMETRICS_INGEST_BIN,
                                         absl::StrCat("--ingest_address=0.0.0.0:", FreePort()),
                                         "--kafka_bootstrap=" + KafkaBootstrap()};
  const pid_t pid = Spawn(args);
  ASSERT_GT(pid, 0);
  int wstatus = 0;
  ASSERT_TRUE(PollUntil(absl::Seconds(30), [&] { return waitpid(pid, &wstatus, WNOHANG) == pid; }))
      << "the service started on 0.0.0.0 without TLS and tokens";
  ASSERT_TRUE(WIFEXITED(wstatus));
  EXPECT_EQ(WEXITSTATUS(wstatus), 2);
}

// 2,000 streams opened and left idle by one caller: the service holds them within a bounded,
// stated amount of memory, and another caller's stream is still served at once.
TEST_F(IngestSecurityTest, TwoThousandIdleStreamsStayBoundedAndOthersAreServed) {
  std::vector<std::string> flags = {"--max_streams=2050", "--max_streams_per_caller=3000"};
  ASSERT_NO_FATAL_FAILURE(StartIngest(flags, {}));
  ASSERT_TRUE(SendOne({}).ok());  // warm: producer, first connection
  const int64_t rss_before = RssKib(ingest_->pid());
  ASSERT_GT(rss_before, 0);

  // 20 connections of 100 streams (the per-connection limit), opened with the callback API so
  // no thread waits per stream.
  struct Idle : grpc::ClientBidiReactor<v1::MetricBatch, v1::BatchAck> {
    grpc::ClientContext ctx;
    absl::Notification done;
    grpc::Status status;
    void OnDone(const grpc::Status& s) override {
      status = s;
      done.Notify();
    }
  };
  constexpr int kConnections = 20, kPerConnection = 100;
  std::vector<std::unique_ptr<v1::IngestService::Stub>> stubs;
  std::vector<std::unique_ptr<Idle>> idle;
  for (int c = 0; c < kConnections; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stubs.push_back(v1::IngestService::NewStub(
        grpc::CreateCustomChannel(ingest_->address(), grpc::InsecureChannelCredentials(), args)));
    for (int s = 0; s < kPerConnection; ++s) {
      auto stream = std::make_unique<Idle>();
      stubs.back()->async()->IngestStream(&stream->ctx, stream.get());
      stream->StartCall();
      idle.push_back(std::move(stream));
    }
  }
  ASSERT_TRUE(PollUntil(
      absl::Seconds(60),
      [&] { return Metric("streammetrics_ingest_open_streams") >= kConnections * kPerConnection; }))
      << "open streams: " << Metric("streammetrics_ingest_open_streams");
  const int64_t rss_idle = RssKib(ingest_->pid());

  // Another caller's stream is served while the 2,000 are open.
  ASSERT_TRUE(SendOne({}, 5, "well-behaved").ok());
  const int64_t growth_kib = rss_idle - rss_before;
  std::fprintf(stderr,
               "RSS with 2000 idle streams: %lld KiB before, %lld KiB with them open: +%lld KiB, "
               "%.1f KiB per stream\n",
               static_cast<long long>(rss_before), static_cast<long long>(rss_idle),
               static_cast<long long>(growth_kib), growth_kib / 2000.0);
  RecordProperty("rss_growth_kib_2000_idle_streams", std::to_string(growth_kib));
  // The bound stated in docs/security.md: under 64 KiB a stream (measured ~20 under ASan).
  EXPECT_LT(growth_kib, 2000 * 64);

  // 51 more, on two new connections: 50 fit under --max_streams=2050, one is refused with
  // RESOURCE_EXHAUSTED at once (not queued).
  for (int c = 0; c < 2; ++c) {
    grpc::ChannelArguments args;
    args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
    stubs.push_back(v1::IngestService::NewStub(
        grpc::CreateCustomChannel(ingest_->address(), grpc::InsecureChannelCredentials(), args)));
  }
  for (int extra = 0; extra < 51; ++extra) {
    auto stream = std::make_unique<Idle>();
    stubs[kConnections + extra % 2]->async()->IngestStream(&stream->ctx, stream.get());
    stream->StartCall();
    idle.push_back(std::move(stream));
  }
  EXPECT_TRUE(PollUntil(absl::Seconds(30), [&] {
    return Metric("streammetrics_ingest_streams_refused_total{reason=\"process_streams\"}") == 1;
  }));
  for (auto& s : idle) s->ctx.TryCancel();
  int exhausted = 0;
  for (auto& s : idle) {
    ASSERT_TRUE(s->done.WaitForNotificationWithTimeout(absl::Seconds(30)));
    exhausted += s->status.error_code() == grpc::StatusCode::RESOURCE_EXHAUSTED;
  }
  EXPECT_EQ(exhausted, 1);
}

// One caller sends as fast as it can under a 2,000 events/s limit; another sends a little. The
// first is paced to its rate; the second is never held back.
TEST_F(IngestSecurityTest, ACallerOverItsRateIsSlowedAnotherIsNot) {
  std::vector<std::string> flags = {"--auth_tokens_file=" + tokens_file_,
                                    "--caller_events_per_second=2000"};
  WriteTokens(security::TokenFileLine(kWriterToken, "greedy", 1) + "\n" +
              security::TokenFileLine("smt_modest", "modest", 1) + "\n");
  ASSERT_NO_FATAL_FAILURE(StartIngest(flags, {}));

  auto run = [&](const std::string& token, const std::string& id, int events) {
    client::MetricsClientOptions o;
    o.target = ingest_->address();
    o.client_id = id;
    o.security.token = token;
    auto c = client::MetricsClient::Create(o);
    EXPECT_TRUE(c.ok()) << c.status();
    const absl::Time start = absl::Now();
    for (int i = 0; i < events && c.ok(); ++i) {
      EXPECT_TRUE(
          (*c)->Send(ingest::testing::ValidEvent(absl::Now(), i, 1.0), absl::Minutes(1)).ok());
    }
    if (c.ok()) {
      EXPECT_TRUE((*c)->Close(absl::Minutes(1)).ok());
    }
    return absl::Now() - start;
  };
  absl::Duration modest_took;
  std::thread modest([&] { modest_took = run("smt_modest", "modest-1", 1'000); });
  const absl::Duration greedy_took = run(kWriterToken, "greedy-1", 12'000);
  modest.join();
  // 12,000 events at 2,000/s after a 2,000 burst cannot take less than 5 s: the limiter's bound.
  EXPECT_GE(greedy_took, absl::Seconds(4.5)) << absl::FormatDuration(greedy_took);
  EXPECT_GT(Metric("streammetrics_ingest_caller_paced_seconds_total{caller=\"greedy\"}"), 0);
  EXPECT_EQ(Metric("streammetrics_ingest_caller_paced_seconds_total{caller=\"modest\"}"), 0);
  EXPECT_EQ(Metric("streammetrics_ingest_caller_events_received_total{caller=\"modest\"}"), 1000);
  std::fprintf(stderr, "greedy caller (12,000 events, limit 2,000/s): %s; modest (1,000): %s\n",
               absl::FormatDuration(greedy_took).c_str(),
               absl::FormatDuration(modest_took).c_str());
}

}  // namespace
}  // namespace streammetrics::testing
