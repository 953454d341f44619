"""Browser-ready renditions of stored files: a video proxy (H.264/AAC MP4) or a display-size
still (WebP), one per content hash in the previews folder, made after tagging by the queue's
own step (`worker.build_pending`)."""
