FROM python:3.11-slim
WORKDIR /app
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt
COPY crm crm
COPY workers workers
COPY vendor_simulator vendor_simulator
COPY wsgi.py gunicorn.conf.py ./
RUN useradd --system crm
USER crm
EXPOSE 8000 9000
CMD ["gunicorn", "-w", "2", "--threads", "4", "-b", "0.0.0.0:8000", "wsgi:app"]
