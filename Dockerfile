# The worker image of k8s/ (ghcr.io/scorpius/scorpius): `scorpius worker` in a StatefulSet pod.
# bytewax 0.21 ships wheels for CPython 3.11 / 3.12 on glibc, so a slim Debian Python base is enough.
FROM python:3.12-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.md constraints.txt ./
COPY flows/ flows/
COPY operators/ operators/
COPY connectors/ connectors/
COPY rules/ rules/
RUN pip install -c constraints.txt .

# Compiled declarative rules and recovery/output data live on the pod's volume, not in the image.
RUN useradd --system --uid 10001 --home-dir /var/lib/scorpius scorpius \
    && mkdir -p /var/lib/scorpius /etc/scorpius/rules \
    && chown scorpius /var/lib/scorpius
USER scorpius
ENV SCORPIUS_RULES_CACHE_DIR=/var/lib/scorpius/rules-cache

# 2101 bytewax peers, 3030 /metrics (dataflow API), 8080 /livez /readyz
EXPOSE 2101 3030 8080
ENTRYPOINT ["scorpius"]
CMD ["worker"]
