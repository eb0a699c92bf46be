# The copycat image: every process of a node (copycat-consensus, copycat-logstore,
# copycat-compactor), copycat-gateway, and the clients copycat-ctl and copycat-bench, on
# debian:bookworm-slim, run as the user copycat. compose/docker-compose.yml runs it; see
# compose/README.md.
#
# It sits at the root of the repository because its build context is the repository (the
# sources), and the classic builder (docker-compose 1.29's) reads .dockerignore only from the
# root of the context: `docker build -t copycat:local .` works as it is.
#
# There is no image registry to pull from: ops/docker-base makes debian:bookworm-slim locally
# (debootstrap + docker import). Works with the classic builder and BuildKit alike.

# ---- builder: compiles the executables only (no tests), 2 jobs by default -------------------
FROM debian:bookworm-slim AS builder
# Marks the images of this build: `docker image prune --filter label=copycat.image` removes the
# untagged ones that earlier builds left (ops/test-compose does).
LABEL copycat.image=builder

# What building the executables needs (ops/install-deps less the test tools, clang-format and
# the fault injectors). The GoogleTest headers are there only because CMakeLists.txt looks
# for them when it configures; no test is built.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
        cmake ninja-build g++ pkg-config \
        libzmq3-dev cppzmq-dev libflatbuffers-dev flatbuffers-compiler \
        prometheus-cpp-dev libcivetweb-dev \
        libboost-program-options-dev libboost-dev libjemalloc-dev \
        libgtest-dev libgmock-dev \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
# Only what the build reads, so that a change to ops/, compose/ or a README does not rebuild.
COPY CMakeLists.txt ./
COPY schemas schemas
COPY common common
COPY logstore logstore
COPY compactor compactor
COPY consensus consensus
COPY gateway gateway
COPY client client
COPY tests tests

ARG BUILD_JOBS=2
# RelWithDebInfo's optimisation as ops/test builds and tests it (-O2 -DNDEBUG), without its
# debug information (-g): smaller binaries and a faster build.
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
        -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -DNDEBUG" > /build-configure.log \
    || { cat /build-configure.log; exit 1; }
RUN cmake --build /build -j "${BUILD_JOBS}" --target \
        copycat-consensus copycat-logstore copycat-compactor copycat-gateway \
        copycat-ctl copycat-bench

# The binaries, stripped, and the Debian packages that hold the shared libraries they load
# (found with ldd, so this list follows the build): the runtime stage installs those.
RUN set -eu; mkdir -p /out/bin; \
    for binary in consensus/server/copycat-consensus logstore/copycat-logstore \
            compactor/copycat-compactor gateway/copycat-gateway client/ctl/copycat-ctl \
            client/bench/copycat-bench; do \
        install -m 755 -s "/build/$binary" /out/bin/; \
    done; \
    ldd /out/bin/* | awk '$2 == "=>" { print $3 }' | sort -u > /tmp/libraries; \
    : > /tmp/owners; \
    while read -r library; do \
        real="$(readlink -f "$library")"; \
        dpkg -S "$real" >> /tmp/owners 2>/dev/null \
            || dpkg -S "${real#/usr}" >> /tmp/owners 2>/dev/null \
            || { echo "no Debian package holds $library" >&2; exit 1; }; \
    done < /tmp/libraries; \
    cut -d: -f1 /tmp/owners | sort -u > /out/runtime-packages; \
    echo "runtime packages:" $(cat /out/runtime-packages)

# ---- runtime: the binaries, their libraries, a user of their own ----------------------------
FROM debian:bookworm-slim
LABEL copycat.image=copycat

COPY --from=builder /out/runtime-packages /usr/local/share/copycat/runtime-packages
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive xargs apt-get install -y --no-install-recommends \
        < /usr/local/share/copycat/runtime-packages \
 && rm -rf /var/lib/apt/lists/*

# Data lives in /var/lib/copycat (a node's volume); /var/lib/copycat-cluster holds what the
# nodes of one cluster share (compose/bin/copycat-start-consensus); /etc/copycat/keys the CURVE
# keys of a secured deployment (compose/docker-compose.curve.yml). All are owned by copycat, so
# that a new named volume mounted there is too.
RUN groupadd --gid 10001 copycat \
 && useradd --uid 10001 --gid copycat --home-dir /var/lib/copycat --no-create-home \
        --shell /usr/sbin/nologin copycat \
 && mkdir -p /var/lib/copycat /var/lib/copycat-cluster /etc/copycat/keys \
 && chown copycat:copycat /var/lib/copycat /var/lib/copycat-cluster /etc/copycat/keys \
 && chmod 700 /etc/copycat/keys

COPY --from=builder /out/bin/ /usr/local/bin/
COPY compose/bin/ /usr/local/bin/
COPY ops/curve-keys /usr/local/bin/copycat-curve-keys
# Fails the build when a binary misses a library.
RUN ! ldd /usr/local/bin/copycat-* 2>/dev/null | grep 'not found' \
 && copycat-consensus --help > /dev/null

USER copycat
WORKDIR /var/lib/copycat
# No EXPOSE: the ports depend on the process and the node (CONVENTIONS.md); every process takes
# its addresses as flags or COPYCAT_* variables, and binds 127.0.0.1 unless told 0.0.0.0.
CMD ["copycat-ctl", "--help"]
