#include "brook/cluster/channel_directory.h"

#include <limits>
#include <stdexcept>
#include <string>

#include "brook/runtime/network/network_environment.h"
#include "brook/runtime/type_info.h"

namespace brook {

namespace {

std::string SubtaskName(const JobVertex& vertex, int subtask) {
  return "subtask " + std::to_string(subtask) + " of vertex " + std::to_string(vertex.id.value()) +
         " '" + vertex.name + "'";
}

bool IsForward(const JobEdge& edge) {
  return edge.partitioner->kind() == PartitionerFactory::Kind::kForward;
}

}  // namespace

NetworkChannelDirectory::NetworkChannelDirectory(const JobGraph& job,
                                                 const SubtaskPlacement& placement,
                                                 NetworkEnvironment* network,
                                                 const ChannelDirectoryOptions& options)
    : job_(job) {
  // Where every subtask runs, and the address of the remote ones.
  std::vector<std::vector<std::optional<PeerAddress>>> remote(job.vertices().size());
  for (const JobVertex& vertex : job.vertices()) {
    auto& local = local_.emplace_back(size_t(vertex.parallelism), true);
    auto& addresses = remote[size_t(vertex.id.value())];
    addresses.resize(size_t(vertex.parallelism));
    for (int s = 0; s < vertex.parallelism; ++s) {
      SubtaskPlace location = placement(vertex.id, s);
      if (location.is_local()) {
        local_subtasks_.emplace_back(vertex.id, s);
        continue;
      }
      if (network == nullptr)
        throw std::invalid_argument(SubtaskName(vertex, s) + " is placed at " +
                                    location.remote->ToString() +
                                    ", but this process has no network environment");
      local[size_t(s)] = false;
      addresses[size_t(s)] = std::move(location.remote);
    }
  }

  // Check every channel before making any: a refusal must leave no channel behind (a network
  // channel, once opened, is visible to the peer).
  const auto& edges = job.edges();
  if (edges.size() > std::numeric_limits<uint32_t>::max())
    throw std::invalid_argument("job has too many edges for network channel ids");
  struct Planned {
    ChannelKey key;
    enum class Kind { kLocal, kSender, kReceiver } kind;
  };
  std::vector<Planned> planned;
  for (size_t e = 0; e < edges.size(); ++e) {
    const JobEdge& edge = edges[e];
    if (edge.chained) continue;
    const JobVertex& producers = job.vertex(edge.source_vertex);
    const JobVertex& consumers = job.vertex(edge.target_vertex);
    for (int p = 0; p < producers.parallelism; ++p) {
      for (int c = 0; c < consumers.parallelism; ++c) {
        if (IsForward(edge) && p != c) continue;
        const bool producer_here = local_[size_t(producers.id.value())][size_t(p)];
        const bool consumer_here = local_[size_t(consumers.id.value())][size_t(c)];
        if (!producer_here && !consumer_here) continue;
        if ((!producer_here || !consumer_here) && !edge.type->serializable())
          throw std::invalid_argument(
              "record type " + edge.type->name() + " has no Serde and cannot cross processes: " +
              "the edge from vertex '" + producers.name + "' to '" + consumers.name +
              "' connects " + SubtaskName(producers, p) + (producer_here ? " (here)" : " (remote)") +
              " to " + SubtaskName(consumers, c) + (consumer_here ? " (here)" : " (remote)") +
              "; give the type a brook::Serde (see brook/runtime/serde.h) or place both in the " +
              "same process");
        const auto kind = producer_here && consumer_here ? Planned::Kind::kLocal
                          : producer_here                ? Planned::Kind::kSender
                                                         : Planned::Kind::kReceiver;
        planned.push_back({{e, p, c}, kind});
      }
    }
  }

  // Make them. Receivers request their channel from the producer's process right away; the
  // producer side parks the request until its sender exists, so processes may get here in any
  // order. If anything still throws, the members made so far are destroyed with the directory.
  for (const Planned& plan : planned) {
    const auto [e, p, c] = plan.key;
    const JobEdge& edge = edges[e];
    const ChannelId id{options.network_job, uint32_t(e), SubtaskIndex(p), SubtaskIndex(c)};
    std::unique_ptr<ChannelBase> channel;
    switch (plan.kind) {
      case Planned::Kind::kLocal:
        channel = edge.type->MakeLocalChannel(options.channel_capacity, options.batch_size);
        ++local_channels_;
        break;
      case Planned::Kind::kSender:
        channel = edge.type->MakeNetworkSender(network->OpenOutbound(id), options.batch_size);
        ++senders_;
        break;
      case Planned::Kind::kReceiver:
        channel = edge.type->MakeNetworkReceiver(
            network->OpenInbound(id, *remote[size_t(edge.source_vertex.value())][size_t(p)]));
        ++receivers_;
        break;
    }
    channels_.emplace(plan.key, std::move(channel));
  }
}

NetworkChannelDirectory::~NetworkChannelDirectory() = default;

bool NetworkChannelDirectory::is_local(VertexId vertex, int subtask) const {
  const size_t v = size_t(vertex.value());
  return v < local_.size() && subtask >= 0 && size_t(subtask) < local_[v].size() &&
         local_[v][size_t(subtask)];
}

size_t NetworkChannelDirectory::EdgeIndexOf(const JobEdge& edge) const {
  const auto& edges = job_.edges();
  if (edges.empty() || &edge < edges.data() || &edge >= edges.data() + edges.size() ||
      edge.chained)
    throw std::invalid_argument("not a network edge of the directory's job graph '" +
                                job_.name() + "'");
  return size_t(&edge - edges.data());
}

void NetworkChannelDirectory::CheckLocal(VertexId vertex, int subtask, const char* side) const {
  if (is_local(vertex, subtask)) return;
  throw std::invalid_argument(std::string("the ") + side + " " +
                              SubtaskName(job_.vertex(vertex), subtask) +
                              " is not placed in this process");
}

std::vector<ChannelBase*> NetworkChannelDirectory::OutputChannels(const JobEdge& edge,
                                                                  int producer) {
  const size_t e = EdgeIndexOf(edge);
  CheckLocal(edge.source_vertex, producer, "producer");
  std::vector<ChannelBase*> result;
  for (int c = 0; c < job_.vertex(edge.target_vertex).parallelism; ++c)
    if (auto it = channels_.find({e, producer, c}); it != channels_.end())
      result.push_back(it->second.get());
  return result;
}

std::vector<ChannelBase*> NetworkChannelDirectory::InputChannels(const JobEdge& edge,
                                                                 int consumer) {
  const size_t e = EdgeIndexOf(edge);
  CheckLocal(edge.target_vertex, consumer, "consumer");
  std::vector<ChannelBase*> result;
  for (int p = 0; p < job_.vertex(edge.source_vertex).parallelism; ++p)
    if (auto it = channels_.find({e, p, consumer}); it != channels_.end())
      result.push_back(it->second.get());
  return result;
}

void NetworkChannelDirectory::Cancel() {
  for (auto& [key, channel] : channels_) channel->Cancel();
}

}  // namespace brook
