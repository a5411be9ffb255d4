"""OGC API Processes of the portal: the ``export`` process (Excel / CSV tables).

Every process reads only the published diffusion views, through the service
role's shared pool: what partners can download is exactly what they can see.
"""
