"""Data: COCO (every COCO constant), images, image folders, video, downloads, the synthetic set."""
