# The API, the worker and the vendor simulator: one image, three commands (docker-compose.yml).
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY requirements.txt build-constraints.txt ./
RUN PIP_CONSTRAINT=build-constraints.txt pip install --no-cache-dir -r requirements.txt
COPY crm crm
COPY workers workers
COPY vendor_simulator vendor_simulator
COPY wsgi.py gunicorn.conf.py ./
# A home of its own: gunicorn keeps its control socket under ~/.gunicorn.
RUN useradd --system --create-home --home-dir /home/crm crm
USER crm
EXPOSE 8000 9000
CMD ["gunicorn", "--preload", "-w", "2", "--threads", "4", "-b", "0.0.0.0:8000", "wsgi:app"]
