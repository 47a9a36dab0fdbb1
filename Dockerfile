# One image for every role: web (gunicorn), worker, scheduler, and one-off commands.
#   docker run IMAGE web | worker | scheduler | lockerbridge <command>
FROM python:3.11-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
COPY requirements-deploy.lock ./
# Exact versions with their hashes (see `make lock`), so an image built later holds the same code.
RUN python -m venv /opt/lockerbridge \
    && /opt/lockerbridge/bin/pip install --require-hashes -r requirements-deploy.lock
COPY pyproject.toml README.md ./
COPY bridge ./bridge
COPY sip2 ./sip2
COPY ils_adapters ./ils_adapters
COPY lockers ./lockers
COPY examples ./examples
RUN /opt/lockerbridge/bin/pip install --no-deps .

FROM python:3.11-slim-bookworm
ENV PATH=/opt/lockerbridge/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    LOCKERBRIDGE_LOG_FORMAT=json \
    LOCKERBRIDGE_CONFIG=/etc/lockerbridge/lockerbridge.toml
RUN groupadd --system --gid 10001 lockerbridge \
    && useradd --system --uid 10001 --gid lockerbridge --home-dir /var/lib/lockerbridge \
       --create-home lockerbridge
COPY --from=build /opt/lockerbridge /opt/lockerbridge
COPY deploy/entrypoint.sh /usr/local/bin/lockerbridge-entrypoint
USER 10001:10001
WORKDIR /var/lib/lockerbridge
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python", "-c", "import os,sys,urllib.request; sys.exit(0 if os.environ.get('LOCKERBRIDGE_ROLE','web')!='web' or urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status==200 else 1)"]
ENTRYPOINT ["/usr/local/bin/lockerbridge-entrypoint"]
CMD ["web"]
