# Included by the top CMakeLists.txt: every ```yaml block of README.md and the user-facing docs
# is loaded by the binary (tests/docs/yaml_blocks.sh says how blocks are marked).
add_test(NAME docs_yaml_blocks
         COMMAND sh ${CMAKE_SOURCE_DIR}/tests/docs/yaml_blocks.sh $<TARGET_FILE:slipway>
                 ${CMAKE_SOURCE_DIR})
set_tests_properties(docs_yaml_blocks PROPERTIES TIMEOUT 300)
