"""landrec.engine"""
