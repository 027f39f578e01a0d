# The two set-up-and-go targets: `make check` (the main job) and `make test`. Both install what is
# missing and skip what is there: the Arm toolchain from Debian, a virtual environment with the package.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CHECK_ARGS ?= --report-dir reports

.PHONY: setup toolchain check test clean

setup: toolchain $(STAMP)

toolchain:
	@command -v arm-none-eabi-gcc >/dev/null && test -f /usr/lib/arm-none-eabi/newlib/libc.a || { \
	  echo "installing gcc-arm-none-eabi and libnewlib-arm-none-eabi"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq gcc-arm-none-eabi libnewlib-arm-none-eabi; }

# tf-keras (Keras 2) builds the LSTM test models: Keras 3's LSTM converts to a WHILE loop, not the fused
# LSTM op. It declares a dependency on `tensorflow`, which would install the full build beside
# tensorflow-cpu, so it is installed without dependencies, at the installed TensorFlow's minor version.
$(STAMP): pyproject.toml Makefile
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[models,test]'
	$(BIN)/pip install -q --no-deps "tf-keras==$$($(BIN)/python -c \
	  "from importlib.metadata import version; print(version('tensorflow-cpu').rsplit('.', 1)[0])").*"
	touch $(STAMP)

check: setup
	$(BIN)/harness check $(CHECK_ARGS)

# pytest (not the hardware tests) then robot robot_tests/; results and JUnit files in reports/.
test: setup
	@BIN=$(BIN) PYTEST_ARGS="$(PYTEST_ARGS)" ROBOT_ARGS="$(ROBOT_ARGS)" tests/run-all

clean:
	rm -rf build
