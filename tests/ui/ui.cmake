# Included by the top CMakeLists.txt: the dashboard (/ui/) in Debian's Chromium through
# playwright-core, with axe-core, against the example shop started by tests/ui/run.sh.
# `npm ci` (pinned in tests/ui/package-lock.json) installs both as a ctest fixture, as
# tests/ofrep does; Chromium comes from scripts/install-deps.sh. Screenshots of each view go
# to <build>/ui-screenshots.
if(SLIPWAY_NODE AND SLIPWAY_NPM)
  set(_ui_dir ${CMAKE_SOURCE_DIR}/tests/ui)
  add_test(NAME ui_npm_ci
           COMMAND ${SLIPWAY_NPM} ci --no-audit --no-fund --prefer-offline
           WORKING_DIRECTORY ${_ui_dir})
  set_tests_properties(ui_npm_ci PROPERTIES FIXTURES_SETUP ui_node_modules TIMEOUT 300
                       RESOURCE_LOCK ui_node_modules)
  # One ctest per suite (tests/ui/*.test.mjs), each against a daemon of its own; the lock
  # keeps them one at a time (they share node_modules and would compete for the cores).
  function(slipway_ui_suite name file)
    add_test(NAME ${name}
             COMMAND sh ${_ui_dir}/run.sh $<TARGET_FILE:slipway> $<TARGET_FILE:testapp>
                     ${CMAKE_BINARY_DIR}/ui-screenshots ${SLIPWAY_NODE} ${file}
             WORKING_DIRECTORY ${_ui_dir})
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED ui_node_modules
                         TIMEOUT 420 RESOURCE_LOCK ui_node_modules)
  endfunction()
  slipway_ui_suite(ui_chromium_e2e ui.test.mjs)
  slipway_ui_suite(ui_logs logs.test.mjs)
  slipway_ui_suite(ui_ops ops.test.mjs)
  slipway_ui_suite(ui_deploys deploys.test.mjs)
  slipway_ui_suite(ui_services100 services100.test.mjs)
  slipway_ui_suite(ui_databases databases.test.mjs)
else()
  add_test(NAME ui_chromium_e2e
           COMMAND sh -c "echo 'node and npm are needed (scripts/install-deps.sh installs them)' >&2; exit 1")
endif()
