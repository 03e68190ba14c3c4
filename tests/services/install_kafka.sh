#!/usr/bin/env bash
# Apache Kafka broker jars for the tests (KRaft mode, no ZooKeeper), from Maven Central via mvn.
#
# Copies org.apache.kafka:kafka_2.13 and its runtime dependencies into
# ~/.cache/scorpius/kafka/<version>/libs; tests/services/kafka.py runs them on the machine's Java.
# Idempotent: a complete copy (marked by .complete) is left alone.
set -euo pipefail

KAFKA_VERSION=${SCORPIUS_KAFKA_VERSION:-4.1.1}
cache_root=${SCORPIUS_CACHE:-$HOME/.cache/scorpius}
dest="$cache_root/kafka/$KAFKA_VERSION"

if [ -e "$dest/.complete" ]; then
  echo "kafka $KAFKA_VERSION: cached in $dest"
  exit 0
fi

need() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    # Several installers may run apt at once; wait for the dpkg lock rather than failing.
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
    DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "$2"
  else
    echo "install_kafka.sh: '$1' is missing (Debian package $2); install it or run as root" >&2
    exit 1
  fi
}
need java openjdk-17-jre-headless
need mvn maven

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat >"$work/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>scorpius.tests</groupId>
  <artifactId>kafka-broker-jars</artifactId>
  <version>1</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <!-- The broker logs through SLF4J 1.7 and ships log4j-core without a binding between them
         (the binary distribution adds one); without it the broker's log says nothing. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>2.24.3</version>
    </dependency>
  </dependencies>
</project>
POM

echo "kafka $KAFKA_VERSION: fetching org.apache.kafka:kafka_2.13 and dependencies from Maven Central"
# Maven's own output only matters when it fails.
if ! mvn --batch-mode -f "$work/pom.xml" dependency:copy-dependencies \
    -DincludeScope=runtime -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1; then
  cat "$work/mvn.log" >&2
  echo "install_kafka.sh: mvn could not fetch the Kafka jars (see above)" >&2
  exit 1
fi

mkdir -p "$dest"
rm -rf "$dest/libs"
mv "$work/libs" "$dest/libs"
touch "$dest/.complete"
echo "kafka $KAFKA_VERSION: $(ls "$dest/libs" | wc -l) jars in $dest/libs"
