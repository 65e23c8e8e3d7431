# fsapp: the outbound Event Socket server, the web admin and the periodic jobs (one image).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

# espeak-ng and sox render the prompt audio (`fsapp prompts build`, RULEBOOK B7).
RUN apt-get update \
 && apt-get install -y --no-install-recommends espeak-ng sox \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid/gid, so the shared volumes' ownership is the same in every container of the stack.
RUN groupadd --system --gid 10001 fsapp \
 && useradd --system --uid 10001 --gid fsapp --home-dir /var/lib/fsapp --shell /usr/sbin/nologin fsapp

WORKDIR /opt/fsapp
COPY pyproject.toml README.md ./
COPY fs_app ./fs_app
COPY domain ./domain
COPY models ./models
COPY admin ./admin
RUN pip install .

COPY docker/entrypoint.sh docker/jobs-loop.sh docker/healthcheck.py ./docker/
# The shared directories exist in the image owned by fsapp: an empty named volume mounted on
# them takes this ownership, so the app can write prompts and delete old recordings and CDRs.
RUN chmod 0755 docker/entrypoint.sh docker/jobs-loop.sh \
 && mkdir -p /var/lib/fsapp/prompts /var/lib/fsapp/recordings /var/lib/fsapp/cdr /run/fsapp/metrics \
 && chown -R fsapp:fsapp /var/lib/fsapp /run/fsapp

ENV FSAPP_DATA_DIR=/var/lib/fsapp
USER fsapp
ENTRYPOINT ["/opt/fsapp/docker/entrypoint.sh"]
CMD ["serve"]
