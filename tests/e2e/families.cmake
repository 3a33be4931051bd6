# Model families end to end through Kafka (tests/fixtures/families): the
# encoder (int64 ids and mask in, embeddings out, sequence lengths 32 and 128
# mixed in one stream) and the recommender (ids in, scores and top-k int64
# ids out), each against onnxruntime's outputs.  Included from
# tests/exec/CMakeLists.txt (tests/e2e/CMakeLists.txt is left as it is).
add_executable(test_family_e2e ${PROJECT_SOURCE_DIR}/tests/e2e/test_family_e2e.c)
target_link_libraries(test_family_e2e PRIVATE swarm)
foreach(pair "bert;encoder" "dlrm;recommender" "bert_ts;encoder"
             "dlrm_ts;recommender")
  list(GET pair 0 f)
  list(GET pair 1 name)
  add_test(NAME e2e_family_${f}
           COMMAND bash ${PROJECT_SOURCE_DIR}/tests/lib/with-broker.sh
                   --topic requests:4 --topic results:4 --topic requests.dlq:1 --
                   $<TARGET_FILE:test_family_e2e> $<TARGET_FILE:swarm-consumer>
                   ${PROJECT_SOURCE_DIR}/tests/fixtures/families/${f} ${name} 20)
  set_tests_properties(e2e_family_${f} PROPERTIES LABELS kafka TIMEOUT 300
                       ENVIRONMENT "SWARM_BROKER_BIN=$<TARGET_FILE:swarm-broker>")
endforeach()
# The recommender and the encoder run as families with the batch fixed per
# plan (docs/exec.md): the encoder batched by sequence length, the
# recommender's EmbeddingBag Loop unrolled per plan (lib/exec/control.c).
