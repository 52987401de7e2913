# Included by the top CMakeLists.txt: the OpenFeature JS SDKs (server + OFREP provider, web +
# OFREP web provider, pinned in tests/ofrep/package-lock.json) against a real daemon started by
# tests/ofrep/run.sh. `npm ci` installs the packages as a ctest fixture, so a clean machine needs
# only node, npm and the npm registry.
find_program(SLIPWAY_NODE node)
find_program(SLIPWAY_NPM npm)
if(SLIPWAY_NODE AND SLIPWAY_NPM)
  set(_ofrep_dir ${CMAKE_SOURCE_DIR}/tests/ofrep)
  add_test(NAME ofrep_npm_ci
           COMMAND ${SLIPWAY_NPM} ci --no-audit --no-fund --prefer-offline
           WORKING_DIRECTORY ${_ofrep_dir})
  set_tests_properties(ofrep_npm_ci PROPERTIES FIXTURES_SETUP ofrep_node_modules TIMEOUT 300
                       RESOURCE_LOCK ofrep_node_modules)
  add_test(NAME ofrep_sdk_e2e
           COMMAND sh ${_ofrep_dir}/run.sh $<TARGET_FILE:slipway> ${SLIPWAY_NODE}
           WORKING_DIRECTORY ${_ofrep_dir})
  set_tests_properties(ofrep_sdk_e2e PROPERTIES FIXTURES_REQUIRED ofrep_node_modules
                       TIMEOUT 180 RESOURCE_LOCK ofrep_node_modules)
  # flagd-testbed's evaluator gherkin suite (vendored in tests/ofrep/testbed) through both
  # published OFREP providers; expected failures are listed, with reasons, in testbed.mjs.
  add_test(NAME ofrep_testbed
           COMMAND sh ${_ofrep_dir}/run.sh $<TARGET_FILE:slipway> ${SLIPWAY_NODE}
                   ${_ofrep_dir}/testbed/evaluator/flags/testkit-flags.json
                   ${_ofrep_dir}/testbed.mjs
           WORKING_DIRECTORY ${_ofrep_dir})
  set_tests_properties(ofrep_testbed PROPERTIES FIXTURES_REQUIRED ofrep_node_modules
                       TIMEOUT 180 RESOURCE_LOCK ofrep_node_modules)
else()
  # Registered all the same, failing with the reason: a suite must not drop out of `make test`.
  foreach(_t ofrep_sdk_e2e ofrep_testbed)
    add_test(NAME ${_t}
             COMMAND sh -c "echo 'node and npm are needed (scripts/install-deps.sh installs them)' >&2; exit 1")
  endforeach()
endif()
