// The name tables (config/name_table.h) of the closed sets config/project.h declares, read by
// the parser, `slipway config` (config/render.cc) and the exports, so each name is written
// once. Kept out of project.h, which every module includes, so a table edit rebuilds only its
// readers.
//
// Constants; any thread.
#pragma once

#include "config/name_table.h"
#include "config/ports_settings.h"
#include "config/project.h"

namespace slipway::config {

// depends_on.<service>.condition
inline constexpr auto kDependsConditionNames = MakeNameTable<DependsCondition>({
    {DependsCondition::kStarted, "service_started"},
    {DependsCondition::kHealthy, "service_healthy"},
    {DependsCondition::kCompletedSuccessfully, "service_completed_successfully"},
});

// x-slipway.ports.<port> (PortProtocolName reads it).
inline constexpr auto kPortProtocolNames = MakeNameTable<PortProtocol>({
    {PortProtocol::kHttp, "http"},
    {PortProtocol::kHttps, "https"},
    {PortProtocol::kTcp, "tcp"},
});

// volumes[].type (long syntax).
inline constexpr auto kMountTypeNames = MakeNameTable<Mount::Type>({
    {Mount::Type::kVolume, "volume"},
    {Mount::Type::kBind, "bind"},
    {Mount::Type::kTmpfs, "tmpfs"},
});

// restart: no | always | on-failure[:N] | unless-stopped (`:N` is RestartPolicy::max_attempts).
inline constexpr auto kRestartModeNames = MakeNameTable<RestartPolicy::Mode>({
    {RestartPolicy::Mode::kNo, "no"},
    {RestartPolicy::Mode::kAlways, "always"},
    {RestartPolicy::Mode::kOnFailure, "on-failure"},
    {RestartPolicy::Mode::kUnlessStopped, "unless-stopped"},
});
// What `restart:` accepts, as its error messages say it.
inline constexpr char kRestartExpected[] = "no, always, on-failure, on-failure:N or unless-stopped";

// deploy.restart_policy.condition (compose's swarm names for the same modes).
inline constexpr auto kRestartConditionNames = MakeNameTable<RestartPolicy::Mode>({
    {RestartPolicy::Mode::kNo, "none"},
    {RestartPolicy::Mode::kOnFailure, "on-failure"},
    {RestartPolicy::Mode::kAlways, "any"},
});

// ports[].protocol.
inline constexpr auto kTransportProtocolNames = MakeNameTable<TransportProtocol>({
    {TransportProtocol::kTcp, "tcp"},
    {TransportProtocol::kUdp, "udp"},
    {TransportProtocol::kSctp, "sctp"},
});

// x-slipway.runtime; kAuto is its absence, not a name one writes.
inline constexpr auto kRuntimeChoiceNames = MakeNameTable<RuntimeChoice>({
    {RuntimeChoice::kHost, "host"},
    {RuntimeChoice::kContainer, "container"},
});

}  // namespace slipway::config
