"""landrec.data"""
