# Test double of CANN's set_env.sh (tests/fakes/README.md).
export ASCEND_TOOLKIT_HOME=/fake/Ascend/ascend-toolkit/latest
export FAKE_CANN_SOURCED=1
