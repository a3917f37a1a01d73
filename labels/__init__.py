"""Labels and documents people print, stick and scan: bag, batch, storage-position and
wristband labels, and the dispensing sheet (PDF, barcodes)."""
