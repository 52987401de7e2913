// The name table (config/name_table.h) of config::MigrationTool: the stored and shown names
// ("sql": the SQL folder runner; "commands": a team's own `up`), of which `migrations.tool`
// accepts the presets (alembic ... knex). Kept out of databases_settings.h, which project.h
// and so every module includes, so a table edit rebuilds only its readers.
//
// Constants; any thread.
#pragma once

#include <string>
#include <vector>

#include "config/databases_settings.h"
#include "config/name_table.h"

namespace slipway::config {

inline constexpr auto kMigrationToolNames = MakeNameTable<MigrationTool>({
    {MigrationTool::kNone, "sql"},
    {MigrationTool::kCommands, "commands"},
    {MigrationTool::kAlembic, "alembic"},
    {MigrationTool::kDjango, "django"},
    {MigrationTool::kPrisma, "prisma"},
    {MigrationTool::kRails, "rails"},
    {MigrationTool::kKnex, "knex"},
});

// The names `migrations.tool` accepts, in table order.
std::vector<std::string> MigrationToolPresets();

}  // namespace slipway::config
